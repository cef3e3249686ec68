"""Several concurrent clients of an echo server (not traced: they are the outside)."""
import asyncio, sys

async def client(i, port):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for k in range(5):
        writer.write(b"msg %d.%d\n" % (i, k))
        await writer.drain()
        await reader.readline()
        await asyncio.sleep(0.01)
    writer.close()
    await writer.wait_closed()

async def main():
    port = int(sys.argv[1])
    await asyncio.gather(*(client(i, port) for i in range(int(sys.argv[2]))))

asyncio.run(main())
