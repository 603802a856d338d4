# ruff: noqa  (deliberately unusual code: these programs exercise odd corners of Python)
"""async def + asyncio.run, async generators, async with, gather, exceptions in tasks."""

import asyncio

from . import case


async def _double(x):
    await asyncio.sleep(0)
    return x * 2


@case(3.5)
def asyncio_run_simple(x):
    return asyncio.run(_double(x))


@case(5)
def asyncio_gather(n):
    async def main():
        return await asyncio.gather(*(_double(i * 0.5) for i in range(n)))

    return asyncio.run(main())


@case()
def async_generator_iteration():
    async def agen(n):
        for i in range(n):
            await asyncio.sleep(0)
            yield i * i

    async def main():
        out = [v async for v in agen(5)]
        async for v in agen(3):
            out.append(-v)
        return out

    return asyncio.run(main())


@case()
def async_generator_asend_athrow_aclose():
    log = []

    async def agen():
        total = 0
        try:
            while True:
                try:
                    v = yield total
                    total += v
                except ValueError as e:
                    log.append(f"caught {e}")
        finally:
            log.append("closed")

    async def main():
        g = agen()
        out = [await g.asend(None), await g.asend(2), await g.asend(3)]
        out.append(await g.athrow(ValueError("bad")))
        await g.aclose()
        return out

    return asyncio.run(main()), log


@case()
def async_with_and_exceptions():
    log = []

    class ACM:
        async def __aenter__(self):
            log.append("aenter")
            return self

        async def __aexit__(self, et, ev, tb):
            log.append(("aexit", et.__name__ if et else None))
            return et is KeyError

    async def main():
        async with ACM():
            log.append("body")
        async with ACM():
            raise KeyError("suppressed")
        return log

    return asyncio.run(main())


@case()
def async_exception_escapes():
    async def inner():
        await asyncio.sleep(0)
        raise ValueError("from coroutine")

    async def main():
        return await inner()

    return asyncio.run(main())


@case()
def async_task_cancellation():
    async def sleeper(log):
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            log.append("cancelled")
            raise

    async def main():
        log = []
        t = asyncio.create_task(sleeper(log))
        await asyncio.sleep(0)
        t.cancel()
        try:
            await t
        except asyncio.CancelledError:
            log.append("main saw cancel")
        return log, t.cancelled()

    return asyncio.run(main())


@case()
def async_gather_return_exceptions():
    async def ok(v):
        return v

    async def bad():
        raise ZeroDivisionError("in task")

    async def main():
        res = await asyncio.gather(ok(1), bad(), ok(3), return_exceptions=True)
        return [r if not isinstance(r, Exception) else (type(r).__name__, str(r)) for r in res]

    return asyncio.run(main())


@case()
def async_queue_producer_consumer():
    async def producer(q, n):
        for i in range(n):
            await q.put(i * 1.5)
        await q.put(None)

    async def consumer(q):
        got = []
        while (item := await q.get()) is not None:
            got.append(item)
        return got

    async def main():
        q = asyncio.Queue()
        _, got = await asyncio.gather(producer(q, 5), consumer(q))
        return got

    return asyncio.run(main())


@case()
def coroutine_send_manually():
    class Awaitable:
        def __await__(self):
            x = yield "suspended"
            return x * 2

    async def coro():
        v = await Awaitable()
        return v + 1

    c = coro()
    first = c.send(None)
    try:
        c.send(20)
    except StopIteration as e:
        return first, e.value


@case()
def async_task_group_exception_group():
    async def fail(msg):
        await asyncio.sleep(0)
        raise ValueError(msg)

    async def main():
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(fail("a"))
                tg.create_task(fail("b"))
        except* ValueError as eg:
            caught = sorted(str(e) for e in eg.exceptions)
        return caught

    return asyncio.run(main())


@case()
def async_wait_for_timeout():
    async def main():
        try:
            await asyncio.wait_for(asyncio.sleep(1), timeout=0.001)
        except TimeoutError as e:
            return type(e).__name__
    return asyncio.run(main())
