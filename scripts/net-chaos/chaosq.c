// chaosq: per-packet faults netem would give, for a kernel built without sch_netem, on the packets
// an iptables NFQUEUE rule sends to queue NUM (placed after link.sh's delay line):
//   reorder PCT HOLD_US   a packet is held HOLD_US with probability PCT %, the others pass at once,
//                         so later packets overtake it;
//   corrupt PCT FIX       one byte of a TCP segment's payload is flipped with probability PCT %;
//                         FIX 0 leaves the TCP checksum as it was (the receiving stack must drop
//                         the segment), FIX 1 recomputes it (the corruption reaches the application,
//                         as one a checksum misses would: only an end-to-end digest can catch it).
// Verdicts are per packet (NFQNL_MSG_VERDICT). Whole packets are copied (NFQNL_COPY_PACKET) and the
// kernel segments GSO packets first (no NFQA_CFG_F_GSO), so each one is an MTU-sized segment with
// its checksum complete. Counters on SIGTERM/SIGINT/SIGUSR1 (stderr): packets, held, corrupted.
// Build: cc -O2 -o chaosq chaosq.c -lnetfilter_queue -lmnl
// Usage: chaosq QUEUE_NUM reorder|corrupt PCT PARAM [SEED=1] [MAX_SECONDS=1800]
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <libmnl/libmnl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#define RING (1u << 16)
static uint32_t heldIds[RING];
static uint64_t heldDue[RING];
static uint64_t head, tail, packets, held, corrupted, tcpPayloadPackets;
static volatile sig_atomic_t stop, report;
static struct mnl_socket *nl;
static unsigned queueNum;
static int reorder;
static double pct;
static long param;
static uint64_t rng;

static uint64_t nowNs(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t next(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng; }
static int chance(void) { return (double)(next() % 1000000) < pct * 10000.0; }
static void onSignal(int sig) { if (sig == SIGUSR1) report = 1; else stop = 1; }

static void config(uint8_t cmd, int withParams) {
  char buf[MNL_SOCKET_BUFFER_SIZE];
  struct nlmsghdr *nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, queueNum);
  if (cmd) nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, cmd);
  if (withParams) {
    nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, 0xffff);
    mnl_attr_put_u32(nlh, NFQA_CFG_QUEUE_MAXLEN, htonl(65536));
  }
  if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) { perror("chaosq: config"); exit(1); }
}

static void verdict(uint32_t id, uint8_t *payload, size_t length) {
  char buf[MNL_SOCKET_BUFFER_SIZE + 0x10000];
  struct nlmsghdr *nlh = nfq_nlmsg_put(buf, NFQNL_MSG_VERDICT, queueNum);
  nfq_nlmsg_verdict_put(nlh, id, NF_ACCEPT);
  if (payload) nfq_nlmsg_verdict_put_pkt(nlh, payload, length);
  if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) { perror("chaosq: verdict"); exit(1); }
}

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t sum) {
  for (; n > 1; p += 2, n -= 2) sum += (uint32_t)(p[0] << 8 | p[1]);
  if (n) sum += (uint32_t)(p[0] << 8);
  return sum;
}

static void tcpChecksum(uint8_t *ip, size_t ipHeader, size_t length) {
  uint8_t *tcp = ip + ipHeader;
  size_t tcpLength = length - ipHeader;
  tcp[16] = tcp[17] = 0;
  uint32_t sum = sum16(ip + 12, 8, 0) + 6 + (uint32_t)tcpLength;
  sum = sum16(tcp, tcpLength, sum);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  uint16_t folded = (uint16_t)~sum;
  tcp[16] = (uint8_t)(folded >> 8); tcp[17] = (uint8_t)folded;
}

/** Flips one payload byte of a TCP segment; 0 when the packet carries no TCP payload. */
static int corrupt(uint8_t *ip, size_t length) {
  if (length < 20 || (ip[0] >> 4) != 4 || ip[9] != 6) return 0;
  size_t ipHeader = (size_t)(ip[0] & 15) * 4, totalLength = (size_t)(ip[2] << 8 | ip[3]);
  if (totalLength < length) length = totalLength;
  if (length < ipHeader + 20) return 0;
  size_t tcpHeader = (size_t)(ip[ipHeader + 12] >> 4) * 4, start = ipHeader + tcpHeader;
  if (length <= start) return 0;
  tcpPayloadPackets++;
  if (!chance()) return 0;
  ip[start + next() % (length - start)] ^= (uint8_t)(1u << (next() % 8));
  if (param) tcpChecksum(ip, ipHeader, length);
  return 1;
}

static int onPacket(const struct nlmsghdr *nlh, void *data) {
  uint64_t at = *(uint64_t *)data;
  struct nlattr *attr[NFQA_MAX + 1] = {0};
  if (nfq_nlmsg_parse(nlh, attr) < 0 || !attr[NFQA_PACKET_HDR]) return MNL_CB_OK;
  struct nfqnl_msg_packet_hdr *ph = mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
  uint32_t id = ntohl(ph->packet_id);
  packets++;
  if (reorder) {
    if (!chance() || tail - head >= RING) { verdict(id, NULL, 0); return MNL_CB_OK; }
    heldIds[tail % RING] = id;
    heldDue[tail % RING] = at + (uint64_t)param * 1000ull;
    tail++; held++;
    return MNL_CB_OK;
  }
  if (attr[NFQA_PAYLOAD]) {
    uint8_t *payload = mnl_attr_get_payload(attr[NFQA_PAYLOAD]);
    size_t length = mnl_attr_get_payload_len(attr[NFQA_PAYLOAD]);
    if (corrupt(payload, length)) { corrupted++; verdict(id, payload, length); return MNL_CB_OK; }
  }
  verdict(id, NULL, 0);
  return MNL_CB_OK;
}

static void release(uint64_t now) {
  while (head != tail && heldDue[head % RING] <= now) { verdict(heldIds[head % RING], NULL, 0); head++; }
}

static void printCounters(void) {
  fprintf(stderr, "chaosq queue %u: packets %llu held %llu corrupted %llu tcp_payload_packets %llu\n", queueNum,
          (unsigned long long)packets, (unsigned long long)held, (unsigned long long)corrupted, (unsigned long long)tcpPayloadPackets);
}

int main(int argc, char **argv) {
  if (argc < 5) { fprintf(stderr, "usage: chaosq QUEUE_NUM reorder|corrupt PCT PARAM [SEED] [MAX_SECONDS]\n"); return 2; }
  queueNum = (unsigned)atoi(argv[1]);
  reorder = strcmp(argv[2], "reorder") == 0;
  if (!reorder && strcmp(argv[2], "corrupt") != 0) { fprintf(stderr, "chaosq: mode is reorder or corrupt\n"); return 2; }
  pct = atof(argv[3]);
  param = atol(argv[4]);
  rng = (uint64_t)(argc > 5 ? atoll(argv[5]) : 1) * 0x9E3779B97F4A7C15ull | 1;
  uint64_t deadline = nowNs() + (uint64_t)(argc > 6 ? atoll(argv[6]) : 1800) * 1000000000ull;
  struct sigaction sa = { .sa_handler = onSignal };
  sigaction(SIGTERM, &sa, NULL); sigaction(SIGINT, &sa, NULL); sigaction(SIGUSR1, &sa, NULL);

  nl = mnl_socket_open(NETLINK_NETFILTER);
  if (!nl || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) { perror("chaosq: netlink"); return 1; }
  int fd = mnl_socket_get_fd(nl), one = 1, rcv = 16 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof rcv);
  mnl_socket_setsockopt(nl, NETLINK_NO_ENOBUFS, &one, sizeof one);
  config(NFQNL_CFG_CMD_BIND, 0);
  config(0, 1);
  unsigned portid = mnl_socket_get_portid(nl);
  fprintf(stderr, "chaosq queue %u: %s %.3f %% param %ld\n", queueNum, argv[2], pct, param);

  static char buf[1 << 17];
  while (!stop) {
    uint64_t now = nowNs();
    if (now > deadline) { fprintf(stderr, "chaosq: lifetime cap reached\n"); break; }
    if (report) { report = 0; printCounters(); }
    release(now);
    struct timespec wait = { .tv_sec = 1, .tv_nsec = 0 };
    if (head != tail) {
      uint64_t d = heldDue[head % RING] > now ? heldDue[head % RING] - now : 0;
      wait.tv_sec = (time_t)(d / 1000000000ull); wait.tv_nsec = (long)(d % 1000000000ull);
    }
    struct pollfd p = { .fd = fd, .events = POLLIN };
    int r = ppoll(&p, 1, &wait, NULL);
    if (r < 0) { if (errno == EINTR) continue; perror("chaosq: ppoll"); return 1; }
    if (r == 0) continue;
    for (;;) {
      ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
      if (n < 0) { if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) break; if (errno == ENOBUFS) continue; perror("chaosq: recv"); return 1; }
      uint64_t at = nowNs();
      mnl_cb_run(buf, (size_t)n, 0, portid, onPacket, &at);
      release(at);
    }
  }
  while (head != tail) { verdict(heldIds[head % RING], NULL, 0); head++; }
  printCounters();
  mnl_socket_close(nl);
  return 0;
}
