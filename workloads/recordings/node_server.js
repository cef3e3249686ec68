// A Node (libuv) TCP echo server; its clients run in another (untraced) process.
const net = require('net');
const server = net.createServer((sock) => {
  sock.on('data', (d) => sock.write(d));
  sock.on('end', () => sock.end());
});
server.listen(Number(process.argv[2]), '127.0.0.1');
setTimeout(() => server.close(), Number(process.argv[3]));
