"""An asyncio echo server on an AF_UNIX path with its own clients: the server forks
CLIENTS client processes, each running its own asyncio loop (its own epoll set), so
both ends of every connection are in one `strace -f` recording. The connections are
open at once; client n connects n * 5 ms after the start and sends a message every
25 ms, so no two clients write at the same moment (where writes of several tasks
overlap, the recording does not say in which order their bytes arrived: see
docs/recordings.md)."""
import asyncio, os, socket, sys

PATH = sys.argv[1]
CLIENTS = int(sys.argv[2])
MESSAGES = 3

async def client(number):
    await asyncio.sleep(0.005 * number)
    reader, writer = await asyncio.open_unix_connection(PATH)
    for i in range(MESSAGES):
        await asyncio.sleep(0.025)
        writer.write(b"client %d message %d\n" % (number, i))
        await writer.drain()
        await reader.readline()
    writer.close()
    await writer.wait_closed()

async def handle(reader, writer):
    while True:
        data = await reader.read(4096)
        if not data:
            break
        writer.write(data)
        await writer.drain()
    writer.close()
    await writer.wait_closed()

async def serve(listener, children):
    done = asyncio.get_running_loop().create_future()
    left = [len(children)]

    async def counted(reader, writer):
        await handle(reader, writer)
        left[0] -= 1
        if left[0] == 0:
            done.set_result(None)

    server = await asyncio.start_unix_server(counted, sock=listener)
    await done
    server.close()
    await server.wait_closed()

def main():
    if os.path.exists(PATH):
        os.unlink(PATH)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(PATH)
    listener.listen(16)
    children = []
    for number in range(CLIENTS):
        pid = os.fork()
        if pid == 0:
            listener.close()
            asyncio.run(client(number))
            os._exit(0)
        children.append(pid)
    asyncio.run(serve(listener, children))
    for pid in children:
        os.waitpid(pid, 0)
    os.unlink(PATH)

main()
