/* synack_bench_listener: the kernel-side TCP listener of the connects benchmark
 * (src/bench/connects.ts), run inside the benchmark's network namespace.
 *
 *   synack_bench_listener HOST PORT BACKLOG accept|hold
 *
 * "accept": one thread, epoll(7), accept4(2) until EAGAIN, close(2) each connection at
 * once. A Node listener pays tens of microseconds per accepted socket, so a client that
 * completes handshakes faster than that fills the accept queue: the kernel then drops
 * SYNs (TcpExtListenOverflows) and the client waits out its SYN retransmission timeout,
 * and the benchmark measures the listener. This loop costs a few microseconds per
 * connection, so the client stack is what is measured.
 * "hold": never accepts. With a small BACKLOG the accept queue fills after BACKLOG + 1
 * handshakes and every later SYN is dropped; the tests use it to check that such a run
 * is reported as invalid.
 *
 * Prints "ready" on stdout once listening. Runs until killed. Exit status 1 with a
 * one-line message on stderr when it cannot listen, 2 on bad usage. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static int usage(const char *argv0) {
  fprintf(stderr, "usage: %s HOST PORT BACKLOG accept|hold\n", argv0);
  return 2;
}

int main(int argc, char **argv) {
  if (argc != 5) return usage(argv[0]);
  int hold = strcmp(argv[4], "hold") == 0;
  if (!hold && strcmp(argv[4], "accept") != 0) return usage(argv[0]);
  char *end = NULL;
  long port = strtol(argv[2], &end, 10);
  if (*end != '\0' || port < 1 || port > 65535) return usage(argv[0]);
  long backlog = strtol(argv[3], &end, 10);
  if (*end != '\0' || backlog < 0 || backlog > 65535) return usage(argv[0]);

  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((unsigned short)port);
  if (inet_pton(AF_INET, argv[1], &a.sin_addr) != 1) {
    fprintf(stderr, "synack_bench_listener: not an IPv4 address: %s\n", argv[1]);
    return 2;
  }
  int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  if (ls < 0 || setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
      bind(ls, (struct sockaddr *)&a, sizeof a) < 0 || listen(ls, (int)backlog) < 0) {
    fprintf(stderr, "synack_bench_listener: cannot listen on %s:%ld: %s\n", argv[1], port, strerror(errno));
    return 1;
  }
  printf("ready\n");
  fflush(stdout);
  if (hold) {
    for (;;) pause();
  }

  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event ev;
  memset(&ev, 0, sizeof ev);
  ev.events = EPOLLIN;
  ev.data.fd = ls;
  if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev) < 0) {
    fprintf(stderr, "synack_bench_listener: epoll: %s\n", strerror(errno));
    return 1;
  }
  for (;;) {
    struct epoll_event out[1];
    int n = epoll_wait(ep, out, 1, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      fprintf(stderr, "synack_bench_listener: epoll_wait: %s\n", strerror(errno));
      return 1;
    }
    for (;;) {
      int c = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
      if (c < 0) {
        /* EAGAIN: queue empty. ECONNABORTED and the like: that one is gone, go on. */
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
          fprintf(stderr, "synack_bench_listener: accept4: %s\n", strerror(errno));
          return 1;
        }
        continue;
      }
      close(c);
    }
  }
}
