// Python clients the lab tests run inside their namespaces (the kernel's own sockets).

/**
 * N kernel clients in parallel (threads; argv: HOST PORT N), each connecting, sending
 * "client I", half-closing and reading the echo. Prints the count whose echo matched and the
 * other outcomes by name, e.g. `1000 {}`.
 */
export const PARALLEL_ECHO_CLIENTS_PY = `
import socket, sys, threading
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ok = 0
errors = {}
lock = threading.Lock()
barrier = threading.Barrier(n)
def one(i):
    global ok
    msg = ("client %d" % i).encode()
    try:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(60)
        barrier.wait()
        s.connect((host, port))
        s.sendall(msg)
        s.shutdown(socket.SHUT_WR)
        got = b""
        while True:
            b = s.recv(4096)
            if not b:
                break
            got += b
        s.close()
        with lock:
            if got == msg:
                ok += 1
            else:
                errors["bad echo"] = errors.get("bad echo", 0) + 1
    except Exception as e:
        with lock:
            errors[type(e).__name__] = errors.get(type(e).__name__, 0) + 1
threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(ok, errors)
`;
