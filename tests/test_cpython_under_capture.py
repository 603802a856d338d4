"""CPython's own test modules, natively and under capture: the outcomes must be identical.

Each module runs twice in a fresh interpreter (tests/cpython/harness.py, driven by
tests/cpython/compare.py): natively, and imported and run inside ``framead.grad(f)(1.0)``
with every frame instrumented. A crash, a hang (timeout; the message names the last test
that started) or any test whose outcome differs fails. ``FAST`` runs in ``make test`` (about
two minutes); ``make test-cpython`` (FRAMEAD_CPYTHON=all) runs ``FULL`` (about 25 minutes).
Differences that are inherent, with the reason, go in ``EXPECTED_DIFFERENCES`` (module ->
{test id: reason}); modules left out go in ``NOT_RUN`` with the reason. Findings, timings
and causes: tests/cpython/FINDINGS.md.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from cpython.compare import HarnessFailure, differences, format_differences, kind, run

FAST = [  # pure-Python behaviour, each module a few seconds for both runs
    "test_bool", "test_int", "test_float", "test_math", "test_complex", "test_fractions",
    "test_statistics", "test_contextlib", "test_dataclasses", "test_scope", "test_exceptions",
    "test_generators", "test_functools", "test_itertools", "test_enum", "test_operator",
    "test_keywordonlyarg", "test_positional_only_arg", "test_unpack", "test_with",
    "test_raise", "test_class", "test_property", "test_super", "test_list", "test_dict",
    "test_tuple", "test_string", "test_sort", "test_heapq", "test_bisect", "test_copy",
    "test_abc", "test_decorators", "test_dictcomps", "test_listcomps", "test_setcomps",
    "test_genexps", "test_named_expressions", "test_patma", "test_augassign", "test_binop",
    "test_compare", "test_richcmp", "test_opcodes", "test_pow", "test_long", "test_random",
    "test_collections", "test_typing", "test_funcattrs", "test_frame", "test_sys_settrace",
    "test_coroutines", "test_asyncgen", "test_contextlib_async", "test_grammar", "test_types",
    "test_userdict", "test_iter", "test_slice", "test_memoryview", "test_struct",
    "test_format", "test_fstring", "test_string_literals", "test_numeric_tower", "test_cmath",
    "test_copyreg", "test_pprint", "test_reprlib", "test_textwrap", "test_csv", "test_weakset",
    "test_defaultdict", "test_getopt", "test_base64", "test_binascii", "test_bdb",
    "test_enumerate", "test_contains", "test_dictviews", "test_userlist", "test_extcall",
    "test_call", "test_yield_from", "test_generator_stop", "test_exception_group",
    "test_except_star", "test_exception_variations", "test_baseexception", "test_global",
    "test_metaclass", "test_subclassinit", "test_genericalias", "test_genericclass",
    "test_isinstance", "test_index", "test_unary", "test_structseq", "test_int_literal",
    "test_syntax", "test_context", "test_opcache", "test_sys_setprofile", "test_dynamic",
    "test_dynamicclassattribute", "test_descrtut", "test_abstract_numbers", "test_iterlen",
    "test_print", "test_type_annotations", "test_finalization", "test_atexit", "test_range",
    "test_json", "test_inspect", "test_traceback", "test_exception_hierarchy"]
SLOW = [  # the modules that most exercise frames, threads, GC and C types; heavier
    "test_descr", "test_weakref", "test_threading", "test_gc", "test_sys", "test_decimal",
    "test_re", "test_pickle", "test_builtin", "test_set", "test_deque"]
MORE = [  # the rest of the survey (tests/cpython/FINDINGS.md)
    "test___all__", "test__opcode", "test__xxsubinterpreters", "test_aifc", "test_argparse",
    "test_array", "test_ast", "test_asynchat", "test_asyncio", "test_asyncore", "test_audioop",
    "test_audit", "test_bigmem", "test_buffer", "test_bufio", "test_bytes", "test_bz2",
    "test_c_locale_coercion", "test_calendar", "test_capi", "test_cgi", "test_cgitb",
    "test_charmapcodec", "test_cmd", "test_cmd_line", "test_cmd_line_script", "test_code",
    "test_code_module", "test_codeccallbacks", "test_codecencodings_cn",
    "test_codecencodings_hk", "test_codecencodings_iso2022", "test_codecencodings_jp",
    "test_codecencodings_kr", "test_codecencodings_tw", "test_codecs", "test_codeop",
    "test_colorsys", "test_compile", "test_compileall", "test_configparser", "test_cprofile",
    "test_crypt", "test_ctypes", "test_datetime", "test_dbm", "test_dbm_dumb",
    "test_dict_version", "test_difflib", "test_dis", "test_distutils", "test_doctest",
    "test_doctest2", "test_docxmlrpc", "test_email", "test_embed", "test_ensurepip",
    "test_eof", "test_epoll", "test_errno", "test_faulthandler", "test_fcntl", "test_file",
    "test_file_eintr", "test_filecmp", "test_fileinput", "test_fileio", "test_fileutils",
    "test_flufl", "test_fnmatch", "test_fork1", "test_frozen", "test_ftplib",
    "test_genericpath", "test_getpass", "test_getpath", "test_gettext", "test_glob",
    "test_graphlib", "test_grp", "test_gzip", "test_hash", "test_hashlib", "test_hmac",
    "test_html", "test_htmlparser", "test_http_cookiejar", "test_http_cookies", "test_httplib",
    "test_httpservers", "test_idle", "test_imaplib", "test_imghdr", "test_imp", "test_import",
    "test_importlib", "test_interpreters", "test_io", "test_ipaddress", "test_keyword",
    "test_largefile", "test_lib2to3", "test_linecache", "test_locale", "test_logging",
    "test_longexp", "test_lzma", "test_mailbox", "test_mailcap", "test_marshal",
    "test_memoryio", "test_mimetypes", "test_minidom", "test_mmap", "test_module",
    "test_modulefinder", "test_multibytecodec", "test_multiprocessing_main_handling",
    "test_netrc", "test_nntplib", "test_ntpath", "test_openpty", "test_optparse",
    "test_ordered_dict", "test_os", "test_pathlib", "test_pdb", "test_peepholer",
    "test_pep646_syntax", "test_picklebuffer", "test_pickletools", "test_pipes", "test_pkg",
    "test_pkgutil", "test_platform", "test_plistlib", "test_poll", "test_popen", "test_poplib",
    "test_posix", "test_posixpath", "test_profile", "test_pstats", "test_pty", "test_pulldom",
    "test_pwd", "test_py_compile", "test_pyclbr", "test_pydoc", "test_pyexpat", "test_queue",
    "test_quopri", "test_readline", "test_regrtest", "test_repl", "test_resource",
    "test_rlcompleter", "test_robotparser", "test_runpy", "test_sax", "test_sched",
    "test_script_helper", "test_secrets", "test_select", "test_selectors", "test_shelve",
    "test_shlex", "test_shutil", "test_signal", "test_site", "test_smtpd", "test_smtplib",
    "test_sndhdr", "test_source_encoding", "test_spwd", "test_sqlite3", "test_ssl",
    "test_stable_abi_ctypes", "test_stat", "test_strftime", "test_stringprep", "test_strptime",
    "test_strtod", "test_subprocess", "test_sunau", "test_sundry", "test_support",
    "test_symtable", "test_sysconfig", "test_syslog", "test_tabnanny", "test_tarfile",
    "test_tcl", "test_telnetlib", "test_tempfile", "test_termios", "test_thread",
    "test_threadedtempfile", "test_threading_local", "test_threadsignals", "test_time",
    "test_timeit", "test_tokenize", "test_tomllib", "test_trace", "test_tracemalloc",
    "test_ttk_textonly", "test_tty", "test_turtle", "test_type_cache", "test_type_comments",
    "test_typechecks", "test_ucn", "test_unicode", "test_unicode_file",
    "test_unicode_file_functions", "test_unicode_identifiers", "test_unicodedata",
    "test_unittest", "test_univnewlines", "test_unpack_ex", "test_unparse", "test_urllib",
    "test_urllib2", "test_urllib2_localnet", "test_urllib_response", "test_urlparse",
    "test_userstring", "test_utf8_mode", "test_utf8source", "test_uu", "test_uuid",
    "test_venv", "test_wait3", "test_wait4", "test_warnings", "test_wave", "test_webbrowser",
    "test_wsgiref", "test_xdrlib", "test_xml_dom_minicompat", "test_xml_etree",
    "test_xml_etree_c", "test_xmlrpc", "test_xxlimited", "test_xxtestfuzz", "test_zipapp",
    "test_zipfile", "test_zipimport", "test_zipimport_support", "test_zlib", "test_zoneinfo",
    "test_future_stmt"]
FULL = FAST + SLOW + MORE
SKIPPED = [  # every test skips here (a -u resource, a platform, a tool or module it needs)
    "test_gdb", "test__locale", "test__osx_support", "test_asdl_parser", "test_bigaddrspace",
    "test_check_c_globals", "test_clinic", "test_codecmaps_cn", "test_codecmaps_hk",
    "test_codecmaps_jp", "test_codecmaps_kr", "test_codecmaps_tw", "test_cppext",
    "test_crashers", "test_curses", "test_dbm_gnu", "test_dbm_ndbm", "test_devpoll",
    "test_dtrace", "test_eintr", "test_ioctl", "test_kqueue", "test_launcher", "test_lltrace",
    "test_msilib", "test_nis", "test_ossaudiodev", "test_osx_env", "test_peg_generator",
    "test_smtpnet", "test_socketserver", "test_startfile", "test_timeout", "test_tix",
    "test_tk", "test_tools", "test_ttk_guionly", "test_urllib2net", "test_urllibnet",
    "test_winconsoleio", "test_winreg", "test_winsound", "test_xmlrpc_net", "test_zipfile64"]
NOT_RUN = {"test_socket": "hangs natively (ThreadedVSOCKSocketStreamTest.testStream: vsock)",
           **dict.fromkeys(SKIPPED, "skips itself here")}
_SPECIALIZED = ("inherent: only framead's instrumented copy of a code object runs, so the "
                "original is never quickened or specialized (dis(adaptive=True) shows it "
                "as compiled)")
EXPECTED_DIFFERENCES: dict[str, dict[str, str]] = {
    "test_dis": dict.fromkeys([
        "test.test_dis.DisTests.test_binary_specialize",
        "test.test_dis.DisTests.test_call_specialize",
        "test.test_dis.DisTests.test_loop_quicken", "test.test_dis.DisTests.test_show_caches",
        "test.test_dis.DisWithFileTests.test_binary_specialize",
        "test.test_dis.DisWithFileTests.test_call_specialize",
        "test.test_dis.DisWithFileTests.test_loop_quicken",
        "test.test_dis.DisWithFileTests.test_show_caches"], _SPECIALIZED),
}
TIMEOUT = float(os.environ.get("FRAMEAD_CPYTHON_TIMEOUT", "300"))
MODULES = FULL if os.environ.get("FRAMEAD_CPYTHON") == "all" else FAST


def _run(module: str, mode: str) -> dict:
    try:
        return run(module, mode, TIMEOUT)
    except HarnessFailure as e:
        pytest.fail(str(e))


@pytest.mark.parametrize("module", MODULES)
def test_module_behaves_as_natively(module):
    native = _run(module, "native")["outcomes"]
    report = _run(module, "capture")
    assert report["grad"] == 1.0
    expected = EXPECTED_DIFFERENCES.get(module, {})
    diffs = {t: d for t, d in differences(native, report["outcomes"]).items()
             if t not in expected}
    assert not diffs, format_differences(diffs)
    stale = [t for t in expected if kind(native.get(t)) == kind(report["outcomes"].get(t))]
    assert not stale, f"listed as differing but now identical (remove them): {stale}"


def test_every_cpython_test_module_is_listed():
    """Each module ``python -m test --list-tests`` names is run (FULL) or left out with a
    reason (NOT_RUN), once."""
    listed = subprocess.run([sys.executable, "-m", "test", "--list-tests"], capture_output=True,
                            text=True, check=True).stdout.split()
    modules = {name.split(".")[1] if name.startswith("test.") else name for name in listed}
    assert len(set(FULL)) == len(FULL), "a module is listed twice"
    assert not set(FULL) & set(NOT_RUN)
    assert modules == set(FULL) | set(NOT_RUN), (modules ^ (set(FULL) | set(NOT_RUN)))
    assert set(EXPECTED_DIFFERENCES) <= set(FULL)
