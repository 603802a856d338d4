"""framead.capture: PEP 523 hook, bytecode rewriter, probes, recorder."""
