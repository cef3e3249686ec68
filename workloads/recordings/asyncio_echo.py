"""An asyncio TCP echo server; its clients run in another (untraced) process."""
import asyncio, sys

async def handle(reader, writer):
    while True:
        data = await reader.read(4096)
        if not data:
            break
        writer.write(data)
        await writer.drain()
    writer.close()
    await writer.wait_closed()

async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", int(sys.argv[1]))
    await asyncio.sleep(float(sys.argv[2]))
    server.close()
    await server.wait_closed()

asyncio.run(main())
