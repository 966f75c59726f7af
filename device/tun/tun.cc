// synack_tun: a Linux TUN device for Node.js, read event-driven on Node's own loop.
//
// What lives here and why it is native:
//  - TUNSETIFF / TUNSETPERSIST and the SIOC[GS]IF* interface ioctls have no Node API.
//  - setns(2) changes the network namespace of the *calling thread* only (see setns(2),
//    "CLONE_NEWNET"), so we can step the main thread into a namespace, create a file
//    descriptor or socket there (it stays bound to that namespace for its whole life),
//    and step back before returning to JavaScript.
//  - Reads are driven by a uv_poll_t on Node's loop (no libuv threadpool): on readable
//    we drain up to maxBatch packets with non-blocking read(2) into one reused
//    ArrayBuffer and call JavaScript once per batch.
//  - Writes are non-blocking write(2) calls, one packet per call (a TUN fd takes exactly
//    one IP datagram per write); EAGAIN is counted, never waited on. A batch crosses
//    into C once: writePacked() takes the packets back to back in one buffer with their
//    lengths. The kernel handles each packet written to a TUN inside the write(2) call
//    (for TCP: its whole input path, and the answer it queues back to us), so with
//    `txThread` the writes are made on a thread of their own: the JavaScript thread
//    copies the batch into a queue and returns, and the kernel's work runs beside it on
//    another core. Packets are written in the order they were queued.
//  - With `queues` > 1 the interface is opened IFF_MULTI_QUEUE with that many fds (one
//    per queue; see Documentation/networking/tuntap.rst, "Multiqueue tuntap interface").
//    Each packet we write goes to the queue its flow hashes to (addresses and TCP/UDP
//    ports), so a flow's packets keep their order; with txThread each queue has its own
//    writer thread, so the kernel's work for different flows runs on several threads.
//    Every queue's fd is polled on Node's loop: the kernel picks the queue of each packet
//    it sends us (tun_automq_select_queue() in drivers/net/tun.c).
//  - With vnetHdr every packet carries a virtio-net header. Packets the stack left to the
//    device's offloads (writePacked's meta: the TCP checksum, and the segmentation of a TSO
//    packet of up to 64 KiB) are written behind a header that says so (OffloadHeader);
//    runs of the others are merged into GSO writes (AssembleVnet). With `rxOffload` (the
//    default with vnetHdr) the kernel is told (TUNSETOFFLOAD) that we complete checksums and
//    cut large TCP segments: each read can then be a TCP segment of up to 64 KiB with its
//    checksum left to us, which is cut into segments of its gso_size with complete
//    checksums here (rx-offload.h), so the stack receives what a plain link would carry.
//
// Every failure becomes a JavaScript exception with `code` ("EPERM", ...), `errno` and
// `syscall` properties, like Node's own system errors. Nothing here aborts the process
// except the one case that cannot be survived safely: failing to switch the main thread
// back to its original network namespace.

#include <napi.h>
#include <uv.h>

#include "rx-offload.h"

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#ifdef __linux__
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>
#endif

namespace synack_tun {

// "EPERM" for EPERM, etc. On Unix libuv error codes are the negated errno values.
std::string ErrnoCode(int err) {
  // libuv does not name every errno; EBADFD is the one a deleted TUN interface gives.
#ifdef EBADFD
  if (err == EBADFD) return "EBADFD";
#endif
  char buf[64];
  uv_err_name_r(-err, buf, sizeof buf);
  std::string name(buf);
  if (name.rfind("Unknown", 0) == 0) return "ERRNO_" + std::to_string(err);
  return name;
}

Napi::Error ErrnoError(Napi::Env env, int err, const std::string& message,
                       const char* syscallName) {
  Napi::Error e = Napi::Error::New(env, message);
  e.Value().Set("code", Napi::String::New(env, ErrnoCode(err)));
  e.Value().Set("errno", Napi::Number::New(env, err));
  if (syscallName != nullptr) {
    e.Value().Set("syscall", Napi::String::New(env, syscallName));
  }
  return e;
}

Napi::Error CodeError(Napi::Env env, const char* code, const std::string& message) {
  Napi::Error e = Napi::Error::New(env, message);
  e.Value().Set("code", Napi::String::New(env, code));
  return e;
}

#ifdef __linux__

// The largest datagram a TUN fd can hand us: the MTU of a Linux interface is at most
// 65535 (and IFF_NO_PI means there is no extra header). Each read offers this much
// room, so a packet is never truncated whatever MTU is set later.
constexpr size_t kMaxPacketBytes = 65536;
// With vnetHdr: the virtio-net header in front of every packet read or written
// (struct virtio_net_hdr, include/uapi/linux/virtio_net.h; TUNSETVNETHDRSZ's default).
constexpr size_t kVnetHdrBytes = 10;
static_assert(kVnetHdrBytes == rxoff::kHdrBytes, "one virtio-net header size");
// Ints per entry of a receive batch's meta: offset, length, and flags: the low byte a drop
// reason (0: a packet), kRxTcpChecksummed when the addon computed (or the kernel verified)
// the packet's TCP checksum.
constexpr size_t kRxMetaStride = 3;
constexpr int32_t kRxTcpChecksummed = 0x100;
// Space planned per packet in the batch buffer; batches of big packets just end sooner.
constexpr size_t kSlotEstimateBytes = 2048;
constexpr int kDefaultMaxBatch = 64;
constexpr int kMaxMaxBatch = 4096;
// Batches delivered per readable event at most (fairness with the rest of the loop).
constexpr int kBatchesPerWake = 8;
// With txThread: bytes queued for the writer at most; a batch beyond it is refused and
// counted like EAGAIN (never waited on).
constexpr size_t kMaxTxQueuedBytes = 16 * 1024 * 1024;
// Batch buffers kept for reuse by the writer thread.
constexpr size_t kTxFreeBatches = 64;
// Queues of a multi-queue TUN at most: the kernel's MAX_TAP_QUEUES (include/linux/if_tap.h).
constexpr int kMaxQueues = 256;

std::string ErrnoText(int err) { return std::string(strerror(err)); }

// ---------------------------------------------------------------------------------------
// Network namespaces

// `ip netns add NAME` bind-mounts the namespace at /var/run/netns/NAME (ip-netns(8)).
// An absolute path (e.g. /proc/PID/ns/net) is used as given.
bool NetnsPathFor(const std::string& name, std::string* path) {
  if (!name.empty() && name[0] == '/') {
    *path = name;
    return true;
  }
  if (name.empty() || name == "." || name == ".." || name.size() > 255 ||
      name.find('/') != std::string::npos) {
    return false;
  }
  *path = "/var/run/netns/" + name;
  return true;
}

// The namespace of this thread (not of the process: after a setns on another thread
// /proc/self would be the wrong one). /proc/thread-self exists since Linux 3.17.
int OpenCurrentNetns() {
  int fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    std::string p = "/proc/self/task/" + std::to_string(static_cast<long>(syscall(SYS_gettid))) +
                    "/ns/net";
    fd = open(p.c_str(), O_RDONLY | O_CLOEXEC);
  }
  return fd;
}

// Moves the calling thread into network namespace `name`; returns an fd for the
// namespace it was in (give it to RestoreNetns). Throws a readable JS error otherwise.
int EnterNetns(Napi::Env env, const std::string& name) {
  std::string path;
  if (!NetnsPathFor(name, &path)) {
    throw CodeError(env, "EINVAL",
                    "invalid network namespace name '" + name +
                        "': use a name made by `ip netns add` (no '/') or an absolute path");
  }
  int saved = OpenCurrentNetns();
  if (saved < 0) {
    int e = errno;
    throw ErrnoError(env, e,
                     "cannot open the current network namespace (/proc/thread-self/ns/net): " +
                         ErrnoText(e),
                     "open");
  }
  int target = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (target < 0) {
    int e = errno;
    close(saved);
    if (e == ENOENT) {
      throw ErrnoError(env, e,
                       "network namespace '" + name + "' does not exist (" + path +
                           " is missing; create it with: ip netns add " + name + ")",
                       "open");
    }
    if (e == EACCES || e == EPERM) {
      throw ErrnoError(env, e,
                       "permission denied opening network namespace '" + name +
                           "': needs root or CAP_SYS_ADMIN",
                       "open");
    }
    throw ErrnoError(env, e, "cannot open network namespace '" + name + "' (" + path +
                                 "): " + ErrnoText(e),
                     "open");
  }
  if (setns(target, CLONE_NEWNET) != 0) {
    int e = errno;
    close(target);
    close(saved);
    if (e == EPERM) {
      throw ErrnoError(env, e,
                       "permission denied entering network namespace '" + name +
                           "': needs root or CAP_SYS_ADMIN",
                       "setns");
    }
    if (e == EINVAL) {
      throw ErrnoError(env, e, path + " is not a network namespace", "setns");
    }
    throw ErrnoError(env, e, "cannot enter network namespace '" + name + "': " + ErrnoText(e),
                     "setns");
  }
  close(target);
  return saved;
}

// Returns the thread to the namespace saved by EnterNetns and closes the saved fd.
// We entered from there a moment ago, so this cannot fail with our privileges; if it
// ever did, the main thread would keep making sockets in the wrong namespace, which is
// worse than stopping.
void RestoreNetns(int saved) {
  if (saved < 0) return;
  if (setns(saved, CLONE_NEWNET) != 0) {
    Napi::Error::Fatal("synack_tun", "could not return to the original network namespace");
  }
  close(saved);
}

// RAII: in the namespace for the scope's lifetime, back out on return or throw.
class NetnsScope {
 public:
  NetnsScope(Napi::Env env, const std::string& name)
      : saved_(name.empty() ? -1 : EnterNetns(env, name)) {}
  ~NetnsScope() { RestoreNetns(saved_); }
  NetnsScope(const NetnsScope&) = delete;
  NetnsScope& operator=(const NetnsScope&) = delete;

 private:
  int saved_;
};

Napi::Value NetnsEnterJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) {
    throw Napi::TypeError::New(env, "netnsEnter(name): name must be a string");
  }
  std::string name = info[0].As<Napi::String>();
  if (name.empty()) throw CodeError(env, "EINVAL", "netnsEnter(name): empty namespace name");
  return Napi::Number::New(env, EnterNetns(env, name));
}

Napi::Value NetnsRestoreJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    throw Napi::TypeError::New(env, "netnsRestore(saved): saved must be the number netnsEnter returned");
  }
  RestoreNetns(info[0].As<Napi::Number>().Int32Value());
  return env.Undefined();
}

// ---------------------------------------------------------------------------------------
// TUN device

struct Opened {
  std::vector<int> fds;  // one per queue
  int ctl = -1;  // AF_INET/AF_INET6 datagram socket in the device's namespace, for ioctls
  std::string name;
  std::string netns;
  int maxBatch = kDefaultMaxBatch;
  bool txThread = false;
  bool vnetHdr = false;
  bool rxOffload = false;
};

// Receive counters belong to the loop thread; transmit counters may be updated by the
// writer thread, hence atomics (relaxed: they are statistics, read now and then).
struct Stats {
  double rxPackets = 0, rxBytes = 0, rxBatches = 0;
  // rxOffload: reads that were GSO packets, the segments they were cut into, partial
  // checksums completed, and reads dropped by reason (rxoff::Drop).
  double rxGsoReads = 0, rxGsoSegments = 0, rxCsumCompleted = 0;
  double rxOffloadDrops[rxoff::kDropReasons] = {};
  std::atomic<uint64_t> txPackets{0}, txBytes{0}, txErrors{0}, txAgain{0};
  // vnetHdr: writes that carried several TCP segments at once, and how many segments.
  std::atomic<uint64_t> txGsoWrites{0}, txGsoSegments{0};
  std::atomic<int> lastTxErrno{0};
};

// Packets queued for the writer thread: back to back in `data`, lengths in `lens`.
struct TxBatch {
  std::vector<uint8_t> data;
  std::vector<uint32_t> lens;
  // vnetHdr: how many of the original packets each write carries (empty otherwise), and how
  // many segments it is on the wire (more than one for a GSO write).
  std::vector<uint32_t> segs;
  std::vector<uint32_t> wire;
};

// Same rules as the kernel's dev_valid_name(): 1..15 bytes, no '/', ':' or whitespace.
bool ValidIfName(const std::string& name, std::string* why) {
  if (name.size() >= IFNAMSIZ) {
    *why = "is too long: at most " + std::to_string(IFNAMSIZ - 1) + " characters (IFNAMSIZ)";
    return false;
  }
  if (name == "." || name == "..") {
    *why = "is not a valid interface name";
    return false;
  }
  for (char c : name) {
    if (c == '/' || c == ':' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\0') {
      *why = "contains a character not allowed in interface names ('/', ':' or whitespace)";
      return false;
    }
  }
  return true;
}

class Tun;

// One queue of the device (a single-queue device has one): its fd, its poll on Node's
// loop and, with txThread, its writer thread and the batches waiting for it.
struct Queue {
  int fd = -1;
  Tun* owner = nullptr;
  uv_poll_t* poll = nullptr;
  double rxPackets = 0;                   // loop thread only
  // rxOffload (loop thread only): each read lands here first; a GSO packet stays here while
  // its segments are written into the batches.
  std::vector<uint8_t> rxRaw;
  rxoff::Gso gso;
  std::atomic<uint64_t> txPackets{0};     // written to this queue
  std::thread worker;
  std::mutex mu;  // guards what follows
  std::condition_variable cv;
  std::deque<std::unique_ptr<TxBatch>> pending;
  std::vector<std::unique_ptr<TxBatch>> free;
  size_t queuedBytes = 0;
  bool stop = false;
};

class Tun : public Napi::ObjectWrap<Tun> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(
        env, "SynackTun",
        {
            InstanceAccessor<&Tun::GetFd>("fd"),
            InstanceAccessor<&Tun::GetName>("name"),
            InstanceAccessor<&Tun::GetClosed>("closed"),
            InstanceAccessor<&Tun::GetFailed>("failed"),
            InstanceAccessor<&Tun::GetRxBuffer>("rxBuffer"),
            InstanceAccessor<&Tun::GetRxMeta>("rxMeta"),
            InstanceAccessor<&Tun::GetMaxBatch>("maxBatch"),
            InstanceMethod<&Tun::Start>("start"),
            InstanceMethod<&Tun::Write>("write"),
            InstanceMethod<&Tun::WriteBatch>("writeBatch"),
            InstanceMethod<&Tun::WritePacked>("writePacked"),
            InstanceAccessor<&Tun::GetTxThread>("txThread"),
            InstanceAccessor<&Tun::GetQueues>("queues"),
            InstanceAccessor<&Tun::GetRxOffload>("rxOffload"),
            InstanceMethod<&Tun::SetMtu>("setMtu"),
            InstanceMethod<&Tun::GetMtu>("getMtu"),
            InstanceMethod<&Tun::SetUp>("setUp"),
            InstanceMethod<&Tun::IsUp>("isUp"),
            InstanceMethod<&Tun::SetPersist>("setPersist"),
            InstanceMethod<&Tun::GetStats>("stats"),
            InstanceMethod<&Tun::Close>("close"),
            InstanceMethod<&Tun::RefJs>("ref"),
            InstanceMethod<&Tun::UnrefJs>("unref"),
        });
  }

  explicit Tun(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Tun>(info), env_(info.Env()) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsExternal()) {
      throw Napi::TypeError::New(env, "use open(name, opts) to create a TUN device");
    }
    Opened* o = info[0].As<Napi::External<Opened>>().Data();
    // Take ownership first so that nothing below can leak the descriptors.
    for (size_t i = 0; i < o->fds.size(); i++) {
      auto q = std::make_unique<Queue>();
      q->fd = o->fds[i];
      q->owner = this;
      queues_.push_back(std::move(q));
    }
    o->fds.clear();
    fd_ = queues_.empty() ? -1 : queues_[0]->fd;
    ctl_ = o->ctl;
    o->ctl = -1;
    name_ = o->name;
    netns_ = o->netns;
    maxBatch_ = o->maxBatch;
    vnetHdr_ = o->vnetHdr;
    rxOffload_ = o->vnetHdr && o->rxOffload;
    if (rxOffload_) {
      for (auto& q : queues_) q->rxRaw.resize(kMaxPacketBytes + kVnetHdrBytes);
    }
    if (o->txThread) {
      txThread_ = true;
      try {
        for (auto& q : queues_) {
          Queue* qp = q.get();
          qp->worker = std::thread([this, qp] { TxLoop(qp); });
        }
      } catch (const std::system_error& e) {
        CloseInternal();
        throw CodeError(env, "EAGAIN", std::string("cannot start a TUN writer thread: ") + e.what());
      }
    }

    rxCap_ = static_cast<size_t>(maxBatch_) * kSlotEstimateBytes + kMaxPacketBytes + kVnetHdrBytes;
    Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, rxCap_);
    rxData_ = static_cast<uint8_t*>(ab.Data());
    rxBufRef_ = Napi::Persistent(ab);
    Napi::Int32Array meta = Napi::Int32Array::New(env, static_cast<size_t>(maxBatch_) * kRxMetaStride);
    rxMeta_ = meta.Data();
    rxMetaRef_ = Napi::Persistent(meta);

    if (napi_add_env_cleanup_hook(env_, OnEnvCleanup, this) == napi_ok) hook_ = true;
  }

  ~Tun() override {
    // A finalizer never runs while we hold our self-reference, except at environment
    // teardown; either way there is nothing left to un-reference.
    selfRef_ = false;
    CloseInternal();
    if (tearingDown_) {
      // The environment is going away: do not call back into it from destructors.
      onBatch_.SuppressDestruct();
      onError_.SuppressDestruct();
      rxBufRef_.SuppressDestruct();
      rxMetaRef_.SuppressDestruct();
      asyncCtx_.release();  // NOLINT: deliberately leaked at process/worker exit
    }
  }

 private:
  Napi::Value GetFd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), fd_); }
  Napi::Value GetName(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), name_);
  }
  Napi::Value GetClosed(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), closed_);
  }
  Napi::Value GetFailed(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), failed_);
  }
  Napi::Value GetRxBuffer(const Napi::CallbackInfo& info) { return rxBufRef_.Value(); }
  Napi::Value GetRxMeta(const Napi::CallbackInfo& info) { return rxMetaRef_.Value(); }
  Napi::Value GetMaxBatch(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), maxBatch_);
  }
  Napi::Value GetQueues(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(queues_.size()));
  }
  Napi::Value GetRxOffload(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), rxOffload_);
  }
  Napi::Value GetTxThread(const Napi::CallbackInfo& info) {
    return Napi::Boolean::New(info.Env(), txThread_);
  }

  void ThrowIfClosed(Napi::Env env) {
    if (closed_) throw CodeError(env, "EBADF", "TUN device " + name_ + " is closed");
  }

  // start(onBatch(count, drops), onError(err)): begins polling. onBatch receives the number of
  // entries; entry i is rxBuffer[rxMeta[3i] .. rxMeta[3i] + rxMeta[3i+1]), a packet when the
  // low byte of rxMeta[3i+2] is 0 (bit 8, kRxTcpChecksummed: its TCP checksum was computed
  // or verified already), else a read dropped for that reason (rxoff::Drop; its bytes are
  // the whole read, virtio-net header included), `drops` of them. The buffer is reused for
  // the next batch, so the bytes are only valid during the call.
  Napi::Value Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    ThrowIfClosed(env);
    if (failed_) throw CodeError(env, "EIO", "TUN device " + name_ + " has failed");
    if (polling_) throw CodeError(env, "EALREADY", "TUN device " + name_ + " is already started");
    if (info.Length() < 2 || !info[0].IsFunction() || !info[1].IsFunction()) {
      throw Napi::TypeError::New(env, "start(onBatch, onError): both must be functions");
    }
    onBatch_ = Napi::Persistent(info[0].As<Napi::Function>());
    onError_ = Napi::Persistent(info[1].As<Napi::Function>());
    // The async resource is a fresh object, not this wrapper, so nothing here keeps the
    // wrapper alive once it is closed.
    if (!asyncCtx_) asyncCtx_ = std::make_unique<Napi::AsyncContext>(env, "SynackTun");

    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
      throw CodeError(env, "EINVAL", "cannot get the Node.js event loop");
    }
    // One poll per queue; the kernel chooses the queue of each packet it sends us.
    polling_ = true;
    for (auto& q : queues_) {
      auto* handle = new uv_poll_t;
      int r = uv_poll_init(loop, handle, q->fd);
      if (r < 0) {
        delete handle;
        StopPolling();
        throw ErrnoError(env, -r, "cannot poll TUN device " + name_ + ": " + uv_strerror(r), "uv_poll_init");
      }
      handle->data = q.get();
      r = uv_poll_start(handle, UV_READABLE, OnPoll);
      if (r < 0) {
        handle->data = nullptr;
        uv_close(reinterpret_cast<uv_handle_t*>(handle), OnHandleClosed);
        StopPolling();
        throw ErrnoError(env, -r, "cannot poll TUN device " + name_ + ": " + uv_strerror(r), "uv_poll_start");
      }
      q->poll = handle;
      if (unref_) uv_unref(reinterpret_cast<uv_handle_t*>(handle));
    }
    // An active device keeps itself alive, as a listening socket does.
    if (!selfRef_) {
      Ref();
      selfRef_ = true;
    }
    return env.Undefined();
  }

  static void OnHandleClosed(uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); }

  static void OnPoll(uv_poll_t* handle, int status, int events) {
    Queue* q = static_cast<Queue*>(handle->data);
    if (q == nullptr) return;
    Tun* self = q->owner;
    if (self->closed_ || !self->polling_) return;
    Napi::Env env(self->env_);
    Napi::HandleScope scope(env);
    if (status < 0) {
      // libuv reports EPOLLERR as UV_EBADF; the TUN driver raises it when the interface
      // behind our fd is gone. A read then tells the real reason (EBADFD) and still
      // delivers anything that was queued before.
      self->Drain(q);
      if (!self->closed_ && !self->failed_) self->Fail(-status, "poll");
      return;
    }
    if ((events & UV_READABLE) != 0) self->Drain(q);
  }

  // Reads what is queued, in batches of up to maxBatch_ packets, one JS call per batch.
  // Stops at EAGAIN, or after kBatchesPerWake batches so that one busy device cannot
  // starve the rest of the loop (the poll is level-triggered: we are called again).
  void Drain(Queue* q) {
    Napi::Env env(env_);
    // The segments of a GSO packet already read are delivered whatever the round: the fd
    // may have nothing more to say, and no later wake-up would come for them.
    for (int round = 0; round < kBatchesPerWake || q->gso.active(); round++) {
      int count = 0;
      int drops = 0;
      size_t off = 0;
      int err = 0;
      bool empty = false;
      const size_t hdr = vnetHdr_ ? kVnetHdrBytes : 0;
      while (count < maxBatch_ && rxCap_ - off >= kMaxPacketBytes + hdr) {
        if (rxOffload_) {
          // Every branch below writes at most kMaxPacketBytes + hdr bytes at rxData_ + off.
          int got = ReadOffloaded(q, off, count, &err, &empty);
          if (got < 0) break;
          if (got == 0) continue;
          if ((rxMeta_[kRxMetaStride * count + 2] & 0xff) != 0) {
            drops++;
          } else {
            stats_.rxPackets += 1;
            q->rxPackets += 1;
            stats_.rxBytes += rxMeta_[kRxMetaStride * count + 1];
          }
          off += (static_cast<size_t>(rxMeta_[kRxMetaStride * count + 1]) + 7) & ~static_cast<size_t>(7);
          count++;
          continue;
        }
        ssize_t n = read(q->fd, rxData_ + off, kMaxPacketBytes + hdr);
        if (n < 0) {
          if (errno == EINTR) continue;
          if (errno == EAGAIN || errno == EWOULDBLOCK) {
            empty = true;
            break;
          }
          err = errno;
          break;
        }
        if (n == 0) {
          // A TUN fd never reads 0 bytes for a live interface; treat it as the end.
          err = EIO;
          break;
        }
        if (static_cast<size_t>(n) <= hdr) continue;  // a header without a packet: nothing to deliver
        // No receive offloads were offered to the kernel (no TUNSETOFFLOAD), so what it sends
        // us is never GSO nor checksum-partial: the header is all zero and is skipped.
        rxMeta_[kRxMetaStride * count] = static_cast<int32_t>(off + hdr);
        rxMeta_[kRxMetaStride * count + 1] = static_cast<int32_t>(static_cast<size_t>(n) - hdr);
        rxMeta_[kRxMetaStride * count + 2] = 0;
        off += (static_cast<size_t>(n) + 7) & ~static_cast<size_t>(7);
        count++;
        stats_.rxPackets += 1;
        q->rxPackets += 1;
        stats_.rxBytes += static_cast<double>(static_cast<size_t>(n) - hdr);
      }
      if (count > 0) {
        stats_.rxBatches += 1;
        if (!onBatch_.IsEmpty()) {
          try {
            onBatch_.MakeCallback(Value(), {Napi::Number::New(env, count), Napi::Number::New(env, drops)}, *asyncCtx_);
          } catch (const Napi::Error& e) {
            // The handler threw: route it to process 'uncaughtException' like any
            // other callback from the loop would, and read no further this turn.
            napi_fatal_exception(env_, e.Value());
            return;
          }
        }
      }
      if (closed_ || failed_ || !polling_) return;  // the handler closed us
      if (err != 0) {
        Fail(err, "read");
        return;
      }
      if (empty) return;
    }
  }

  // rxOffload: the next entry of a batch at rxData_ + off, as entry `count`: the next segment
  // of the GSO packet being cut, or what one read(2) gives (a packet, its partial checksum
  // completed; a GSO packet, whose first segment comes next; or a counted drop). Returns 1
  // for an entry written, 0 for a read that gave no entry, -1 to end the batch (*err set,
  // or *empty at EAGAIN).
  int ReadOffloaded(Queue* q, size_t off, int count, int* err, bool* empty) {
    int32_t* m = rxMeta_ + kRxMetaStride * count;
    if (q->gso.active()) {
      m[0] = static_cast<int32_t>(off);
      m[1] = static_cast<int32_t>(rxoff::EmitSegment(&q->gso, rxData_ + off));
      m[2] = kRxTcpChecksummed;
      return 1;
    }
    uint8_t* raw = q->rxRaw.data();
    ssize_t n = read(q->fd, raw, q->rxRaw.size());
    if (n < 0) {
      if (errno == EINTR) return 0;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        *empty = true;
      } else {
        *err = errno;
      }
      return -1;
    }
    if (n == 0) {
      *err = EIO;  // a TUN fd never reads 0 bytes for a live interface
      return -1;
    }
    const size_t got = static_cast<size_t>(n);
    const size_t pn = got >= kVnetHdrBytes ? got - kVnetHdrBytes : 0;
    const bool partial = got >= kVnetHdrBytes && (raw[0] & rxoff::kNeedsCsum) != 0;
    bool checksummed = false;
    int why = rxoff::Classify(raw, got, raw + kVnetHdrBytes, pn, &q->gso, &checksummed);
    if (why != rxoff::kOk) {
      stats_.rxOffloadDrops[why] += 1;
      memcpy(rxData_ + off, raw, got);
      m[0] = static_cast<int32_t>(off);
      m[1] = static_cast<int32_t>(got);
      m[2] = why;
      return 1;
    }
    if (partial) stats_.rxCsumCompleted += 1;
    if (q->gso.active()) {
      stats_.rxGsoReads += 1;
      stats_.rxGsoSegments += q->gso.segments();
      m[0] = static_cast<int32_t>(off);
      m[1] = static_cast<int32_t>(rxoff::EmitSegment(&q->gso, rxData_ + off));
      m[2] = kRxTcpChecksummed;
      return 1;
    }
    if (pn == 0) return 0;  // a header without a packet: nothing to deliver
    memcpy(rxData_ + off, raw + kVnetHdrBytes, pn);
    m[0] = static_cast<int32_t>(off);
    m[1] = static_cast<int32_t>(pn);
    m[2] = checksummed ? kRxTcpChecksummed : 0;
    return 1;
  }

  // Reports a device failure once and stops polling. The fd stays open until close().
  void Fail(int err, const char* syscallName) {
    if (failed_ || closed_) return;
    failed_ = true;
    StopPolling();
    Napi::Env env(env_);
    std::string msg = "TUN device " + name_ +
                      (netns_.empty() ? std::string() : " (network namespace " + netns_ + ")") +
                      " failed: " + syscallName + ": " + ErrnoText(err);
    if (err == EBADFD || err == EBADF || err == EIO || err == ENODEV || err == ENXIO) {
      msg += " (the interface was probably deleted)";
    }
    Napi::Error e = ErrnoError(env, err, msg, syscallName);
    Napi::FunctionReference onError = std::move(onError_);
    ReleaseCallbacks();
    if (!onError.IsEmpty()) {
      try {
        onError.MakeCallback(Value(), {e.Value()}, *asyncCtx_);
      } catch (const Napi::Error& x) {
        napi_fatal_exception(env_, x.Value());
      }
    }
  }

  // The handlers usually close over the JS object that owns this wrapper: holding them
  // (strong references) after we are done would keep both alive forever. Safe to call
  // from inside a handler: the running function stays alive on the JS stack.
  void ReleaseCallbacks() {
    if (tearingDown_) return;
    onBatch_.Reset();
    onError_.Reset();
  }

  void StopPolling() {
    polling_ = false;
    for (auto& q : queues_) {
      if (q->poll == nullptr) continue;
      uv_poll_stop(q->poll);
      q->poll->data = nullptr;
      uv_close(reinterpret_cast<uv_handle_t*>(q->poll), OnHandleClosed);
      q->poll = nullptr;
    }
    if (selfRef_) {
      selfRef_ = false;
      Unref();
    }
  }

  void CloseInternal() {
    if (closed_) return;
    closed_ = true;
    StopPolling();
    ReleaseCallbacks();
    StopWriters();  // each writes what is queued first
    for (auto& q : queues_) {
      if (q->fd >= 0) close(q->fd);
      q->fd = -1;
    }
    fd_ = -1;
    if (ctl_ >= 0) {
      close(ctl_);
      ctl_ = -1;
    }
    if (hook_) {
      hook_ = false;
      napi_remove_env_cleanup_hook(env_, OnEnvCleanup, this);
    }
  }

  static void OnEnvCleanup(void* arg) {
    Tun* self = static_cast<Tun*>(arg);
    self->hook_ = false;  // the hook is being consumed; do not remove it again
    self->tearingDown_ = true;
    self->selfRef_ = false;  // no JS calls during teardown
    self->CloseInternal();
  }

  // Sends one datagram now. Returns true if the kernel took it.
  bool WriteOne(Queue* q, const uint8_t* data, size_t len) {
    ssize_t n;
    do {
      n = write(q->fd, data, len);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      CountTxErrors(1, errno);
      return false;
    }
    stats_.txPackets.fetch_add(1, std::memory_order_relaxed);
    stats_.txBytes.fetch_add(len, std::memory_order_relaxed);
    q->txPackets.fetch_add(1, std::memory_order_relaxed);
    return true;
  }

  void CountTxErrors(uint64_t n, int err) {
    stats_.txErrors.fetch_add(n, std::memory_order_relaxed);
    if (err == EAGAIN || err == EWOULDBLOCK) stats_.txAgain.fetch_add(n, std::memory_order_relaxed);
    stats_.lastTxErrno.store(err, std::memory_order_relaxed);
  }

  // ---- writer threads (txThread): one per queue ----

  std::unique_ptr<TxBatch> NewTxBatch(Queue* q) {
    {
      std::lock_guard<std::mutex> lk(q->mu);
      if (!q->free.empty()) {
        std::unique_ptr<TxBatch> b = std::move(q->free.back());
        q->free.pop_back();
        return b;
      }
    }
    return std::make_unique<TxBatch>();
  }

  // Queues a filled batch for the queue's writer; returns how many packets were queued (all or none).
  uint32_t SubmitTxBatch(Queue* q, std::unique_ptr<TxBatch> b) {
    uint32_t n = static_cast<uint32_t>(b->lens.size());
    if (!b->segs.empty()) {
      n = 0;
      for (uint32_t k : b->segs) n += k;
    }
    size_t bytes = b->data.size();
    {
      std::lock_guard<std::mutex> lk(q->mu);
      if (q->queuedBytes + bytes > kMaxTxQueuedBytes) {
        CountTxErrors(n, EAGAIN);
        RecycleLocked(q, std::move(b));
        return 0;
      }
      q->queuedBytes += bytes;
      q->pending.push_back(std::move(b));
    }
    q->cv.notify_one();
    return n;
  }

  static void RecycleLocked(Queue* q, std::unique_ptr<TxBatch> b) {
    if (q->free.size() >= kTxFreeBatches) return;
    b->data.clear();
    b->lens.clear();
    b->segs.clear();
    b->wire.clear();
    q->free.push_back(std::move(b));
  }

  // A queue's writer: takes its batches in order and writes their packets to its fd. On
  // close it writes what is still queued, then returns (close() joins every writer before
  // any fd is closed).
  void TxLoop(Queue* q) {
    std::unique_lock<std::mutex> lk(q->mu);
    for (;;) {
      q->cv.wait(lk, [q] { return q->stop || !q->pending.empty(); });
      if (q->pending.empty()) return;
      std::unique_ptr<TxBatch> b = std::move(q->pending.front());
      q->pending.pop_front();
      lk.unlock();
      if (!b->segs.empty()) {
        WriteAssembled(q, *b);
      } else {
        size_t off = 0;
        for (uint32_t len : b->lens) {
          WriteOne(q, b->data.data() + off, len);
          off += len;
        }
      }
      lk.lock();
      q->queuedBytes -= b->data.size();
      RecycleLocked(q, std::move(b));
    }
  }

  // Tells every writer to stop once its queue is empty, then waits for all of them (they
  // flush side by side).
  void StopWriters() {
    for (auto& q : queues_) {
      if (!q->worker.joinable()) continue;
      {
        std::lock_guard<std::mutex> lk(q->mu);
        q->stop = true;
      }
      q->cv.notify_one();
    }
    for (auto& q : queues_) {
      if (q->worker.joinable()) q->worker.join();
    }
  }

  // The queue a packet we write goes to: a hash of its addresses and, for TCP and UDP,
  // its ports, so that every packet of one connection takes the same queue (and, with
  // txThread, the same writer) and they reach the kernel in the order they were sent.
  // IPv4 fragments, IPv6 packets with extension headers and other protocols hash on the
  // addresses alone. The kernel does not care which queue a packet arrives on.
  static uint32_t FlowQueue(const uint8_t* p, size_t len, uint32_t nq) {
    uint32_t h = 0x9e3779b9u;
    auto mix = [&h](const uint8_t* b, size_t n) {
      for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x01000193u;  // FNV-1a
    };
    if (len >= 20 && (p[0] >> 4) == 4) {
      size_t ihl = static_cast<size_t>(p[0] & 0x0f) * 4;
      mix(p + 12, 8);
      bool fragment = (Rd16(p + 6) & 0x3fff) != 0;
      if (!fragment && (p[9] == 6 || p[9] == 17) && ihl >= 20 && len >= ihl + 4) mix(p + ihl, 4);
    } else if (len >= 40 && (p[0] >> 4) == 6) {
      mix(p + 8, 32);
      if ((p[6] == 6 || p[6] == 17) && len >= 44) mix(p + 40, 4);
    }
    // Final avalanche (MurmurHash3's fmix32) so that nearby ports spread over the queues.
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return static_cast<uint32_t>((static_cast<uint64_t>(h) * nq) >> 32);
  }

  // Sends or queues `count` packets given as pointers and lengths; returns how many the
  // kernel took (or, with the writer threads, how many were queued). `at(i, &data, &len)`
  // may be asked for the same packet more than once and out of order. With several
  // queues the batch is split by flow, each part keeping its order.
  //
  // `meta` (vnetHdr only, may be null): per packet, what the stack left to the device (see
  // OffloadHeader).
  template <typename PacketAt>
  uint32_t SendPackets(uint32_t count, PacketAt at, const int32_t* meta) {
    if (closed_) {
      CountTxErrors(count, EBADF);
      return 0;
    }
    uint32_t nq = static_cast<uint32_t>(queues_.size());
    if (nq == 1) return SendOn(queues_[0].get(), count, at, meta);
    std::vector<std::vector<uint32_t>>& parts = txParts_;
    parts.resize(nq);
    for (auto& v : parts) v.clear();
    for (uint32_t i = 0; i < count; i++) {
      const uint8_t* data = nullptr;
      size_t len = 0;
      at(i, &data, &len);
      parts[FlowQueue(data, len, nq)].push_back(i);
    }
    uint32_t sent = 0;
    std::vector<int32_t>& partMeta = txPartMeta_;
    for (uint32_t k = 0; k < nq; k++) {
      const std::vector<uint32_t>& idx = parts[k];
      if (idx.empty()) continue;
      if (meta != nullptr) {
        partMeta.resize(idx.size());
        for (size_t j = 0; j < idx.size(); j++) partMeta[j] = meta[idx[j]];
      }
      sent += SendOn(queues_[k].get(), static_cast<uint32_t>(idx.size()),
                     [&](uint32_t j, const uint8_t** d, size_t* l) { at(idx[j], d, l); },
                     meta != nullptr ? partMeta.data() : nullptr);
    }
    return sent;
  }

  // SendPackets for the packets of one queue.
  template <typename PacketAt>
  uint32_t SendOn(Queue* q, uint32_t count, PacketAt at, const int32_t* meta) {
    if (vnetHdr_ && !txThread_ && meta != nullptr) {
      // Packets the stack left to the device's offloads go from the caller's buffer with one
      // writev(2) each (header + packet: no copy); the others are assembled as below.
      uint32_t sent = 0;
      uint32_t i = 0;
      while (i < count) {
        if (meta[i] != 0) {
          const uint8_t* d = nullptr;
          size_t n = 0;
          at(i, &d, &n);
          if (WriteOffloaded(q, d, n, meta[i])) sent++;
          i++;
          continue;
        }
        uint32_t j = i;
        while (j < count && meta[j] == 0) j++;
        TxBatch b;
        AssembleVnet(i, j, at, nullptr, &b);
        sent += WriteAssembled(q, b);
        i = j;
      }
      return sent;
    }
    if (vnetHdr_) {
      // Assemble the writes (header + packet, TCP runs merged) into a batch first.
      std::unique_ptr<TxBatch> b = txThread_ ? NewTxBatch(q) : std::make_unique<TxBatch>();
      AssembleVnet(0, count, at, meta, b.get());
      if (txThread_) return SubmitTxBatch(q, std::move(b)) > 0 ? count : 0;
      return WriteAssembled(q, *b);
    }
    if (!txThread_) {
      uint32_t sent = 0;
      for (uint32_t i = 0; i < count; i++) {
        const uint8_t* data = nullptr;
        size_t len = 0;
        at(i, &data, &len);
        if (WriteOne(q, data, len)) sent++;
      }
      return sent;
    }
    std::unique_ptr<TxBatch> b = NewTxBatch(q);
    b->lens.reserve(count);
    for (uint32_t i = 0; i < count; i++) {
      const uint8_t* data = nullptr;
      size_t len = 0;
      at(i, &data, &len);
      b->data.insert(b->data.end(), data, data + len);
      b->lens.push_back(static_cast<uint32_t>(len));
    }
    return SubmitTxBatch(q, std::move(b));
  }

  // ---- vnetHdr: the virtio-net header, and TCP segments merged into one GSO write ----
  //
  // A run of TCP/IPv4 segments of one connection with consecutive sequence numbers,
  // identical headers apart from seq (and PSH on the last) and equal payload sizes (the
  // last may be shorter) is written as ONE packet of up to 64 KiB with a virtio-net header
  // saying VIRTIO_NET_HDR_GSO_TCPV4, gso_size = the segments' payload size and
  // NEEDS_CSUM (the TCP checksum field holds the pseudo-header sum). The kernel takes it
  // as one large segment (as if GRO had merged the originals): one write(2) and one pass
  // through its TCP input instead of one per segment. Everything else is written alone
  // behind an all-zero header. See include/uapi/linux/virtio_net.h and
  // virtio_net_hdr_to_skb() in include/linux/virtio_net.h.

  struct Tcp4 {
    const uint8_t* p;
    size_t len;
    size_t hdrLen;  // IP + TCP headers
    size_t payload;
    uint32_t seq;
    uint8_t flags;
  };

  static uint16_t Rd16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
  static uint32_t Rd32(const uint8_t* p) {
    return (static_cast<uint32_t>(p[0]) << 24) | (static_cast<uint32_t>(p[1]) << 16) | (static_cast<uint32_t>(p[2]) << 8) | p[3];
  }

  // A plain TCP/IPv4 data segment (no IP options or fragments; ACK, maybe PSH, nothing else)?
  static bool ParseTcp4(const uint8_t* p, size_t len, Tcp4* t) {
    if (len < 40 || p[0] != 0x45 || p[9] != 6 || Rd16(p + 2) != len) return false;
    if ((Rd16(p + 6) & 0x3fff) != 0) return false;  // MF or a fragment offset
    size_t tcpLen = static_cast<size_t>(p[32] >> 4) * 4;
    if (tcpLen < 20 || 20 + tcpLen > len) return false;
    uint8_t flags = p[33];
    if ((flags & ~0x18) != 0 || (flags & 0x10) == 0) return false;  // only ACK, and PSH
    t->p = p;
    t->len = len;
    t->hdrLen = 20 + tcpLen;
    t->payload = len - t->hdrLen;
    t->seq = Rd32(p + 24);
    t->flags = flags;
    return t->payload > 0;
  }

  // Same connection, same headers apart from the IP id and checksum, seq, PSH and the TCP checksum.
  static bool SameHeaders(const Tcp4& a, const Tcp4& b) {
    if (a.hdrLen != b.hdrLen) return false;
    if (memcmp(a.p + 1, b.p + 1, 1) != 0) return false;           // TOS
    if (memcmp(a.p + 8, b.p + 8, 2) != 0) return false;           // TTL, protocol
    if (memcmp(a.p + 12, b.p + 12, 8 + 4) != 0) return false;     // addresses, ports
    if (memcmp(a.p + 28, b.p + 28, 4 + 1) != 0) return false;     // ack, data offset
    if (memcmp(a.p + 34, b.p + 34, 2) != 0) return false;         // window
    return memcmp(a.p + 40, b.p + 40, a.hdrLen - 40) == 0;        // options
  }

  static uint32_t SumWords(const uint8_t* p, size_t n, uint32_t sum) {
    for (size_t i = 0; i + 1 < n; i += 2) sum += Rd16(p + i);
    if (n & 1) sum += static_cast<uint32_t>(p[n - 1]) << 8;
    return sum;
  }
  static uint16_t Fold(uint32_t sum) {
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<uint16_t>(sum);
  }

  static void PutHdr(std::vector<uint8_t>* out, uint8_t flags, uint8_t gsoType, uint16_t hdrLen, uint16_t gsoSize,
                     uint16_t csumStart, uint16_t csumOffset) {
    // Fields in the host's byte order: a TUN's vnet header is "legacy" virtio unless
    // TUNSETVNETLE/BE says otherwise.
    uint8_t h[kVnetHdrBytes];
    h[0] = flags;
    h[1] = gsoType;
    memcpy(h + 2, &hdrLen, 2);
    memcpy(h + 4, &gsoSize, 2);
    memcpy(h + 6, &csumStart, 2);
    memcpy(h + 8, &csumOffset, 2);
    out->insert(out->end(), h, h + kVnetHdrBytes);
  }

  // ---- offloads the stack asked for (writePacked's meta) ----
  //
  // meta bit 16 (TX_CSUM_PARTIAL in stack/outbox.ts): the TCP checksum field holds the
  // pseudo-header sum, so the header says VIRTIO_NET_HDR_F_NEEDS_CSUM from the TCP header on
  // (csum_start, csum_offset 16). meta bits 0-15 (TX_GSO_SIZE): when the packet carries more
  // payload than that, it is a TSO packet: VIRTIO_NET_HDR_GSO_TCPV4 (or TCPV6) with that
  // gso_size. Returns false for a packet that is not plain TCP over IPv4 or IPv6 (no IPv6
  // extension headers), or a GSO request without NEEDS_CSUM; `wire` is how many segments
  // the packet is on the wire.
  static bool OffloadHeader(const uint8_t* p, size_t n, int32_t m, uint8_t* h, uint32_t* wire) {
    if (n < 1 || (m & 0x10000) == 0) return false;
    size_t ip;
    bool v4 = (p[0] >> 4) == 4;
    if (v4) {
      ip = static_cast<size_t>(p[0] & 0x0f) * 4;
      if (ip < 20 || n < ip + 20 || p[9] != 6) return false;
    } else if ((p[0] >> 4) == 6) {
      ip = 40;
      if (n < ip + 20 || p[6] != 6) return false;
    } else {
      return false;
    }
    size_t hdr = ip + static_cast<size_t>(p[ip + 12] >> 4) * 4;
    if (hdr < ip + 20 || hdr > n) return false;
    size_t payload = n - hdr;
    uint16_t gsoSize = static_cast<uint16_t>(m & 0xffff);
    uint8_t gsoType = 0;
    *wire = 1;
    if (gsoSize > 0 && payload > gsoSize) {
      gsoType = v4 ? 1 : 4;  // VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HDR_GSO_TCPV6
      *wire = static_cast<uint32_t>((payload + gsoSize - 1) / gsoSize);
    } else {
      gsoSize = 0;
    }
    uint16_t hdrLen = static_cast<uint16_t>(hdr), csumStart = static_cast<uint16_t>(ip), csumOffset = 16;
    h[0] = 1;  // VIRTIO_NET_HDR_F_NEEDS_CSUM
    h[1] = gsoType;
    memcpy(h + 2, &hdrLen, 2);
    memcpy(h + 4, &gsoSize, 2);
    memcpy(h + 6, &csumStart, 2);
    memcpy(h + 8, &csumOffset, 2);
    return true;
  }

  // One offloaded packet straight from the caller's buffer: writev(2) of its header and it.
  bool WriteOffloaded(Queue* q, const uint8_t* d, size_t n, int32_t m) {
    uint8_t h[kVnetHdrBytes];
    uint32_t wire = 1;
    if (!OffloadHeader(d, n, m, h, &wire)) {
      CountTxErrors(1, EINVAL);
      return false;
    }
    struct iovec iov[2] = {{h, kVnetHdrBytes}, {const_cast<uint8_t*>(d), n}};
    ssize_t r;
    do {
      r = writev(q->fd, iov, 2);
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
      CountTxErrors(1, errno);
      return false;
    }
    q->txPackets.fetch_add(wire, std::memory_order_relaxed);
    CountWritten(n, wire);
    return true;
  }

  void CountWritten(size_t bytes, uint32_t wire) {
    stats_.txPackets.fetch_add(wire, std::memory_order_relaxed);
    stats_.txBytes.fetch_add(bytes, std::memory_order_relaxed);
    if (wire > 1) {
      stats_.txGsoWrites.fetch_add(1, std::memory_order_relaxed);
      stats_.txGsoSegments.fetch_add(wire, std::memory_order_relaxed);
    }
  }

  // Packets [begin, end) as writes into `b` (b->segs, b->wire: see TxBatch). Packets with a
  // non-zero meta go as the stack left them (OffloadHeader); runs of the others are merged.
  template <typename PacketAt>
  void AssembleVnet(uint32_t begin, uint32_t count, PacketAt at, const int32_t* meta, TxBatch* b) {
    std::vector<uint32_t>* segs = &b->segs;
    std::vector<Tcp4> run;
    uint32_t i = begin;
    while (i < count) {
      const uint8_t* d = nullptr;
      size_t n = 0;
      at(i, &d, &n);
      if (meta != nullptr && meta[i] != 0) {
        uint8_t h[kVnetHdrBytes];
        uint32_t wire = 1;
        if (!OffloadHeader(d, n, meta[i], h, &wire)) {
          CountTxErrors(1, EINVAL);
        } else {
          b->data.insert(b->data.end(), h, h + kVnetHdrBytes);
          b->data.insert(b->data.end(), d, d + n);
          b->lens.push_back(static_cast<uint32_t>(kVnetHdrBytes + n));
          segs->push_back(1);
          b->wire.push_back(wire);
        }
        i++;
        continue;
      }
      Tcp4 first{};
      run.clear();
      if (ParseTcp4(d, n, &first) && (first.flags & 0x08) == 0) {
        run.push_back(first);
        size_t total = first.len;
        uint32_t next = first.seq + static_cast<uint32_t>(first.payload);
        for (uint32_t j = i + 1; j < count; j++) {
          const uint8_t* dj = nullptr;
          size_t nj = 0;
          if (meta != nullptr && meta[j] != 0) break;
          at(j, &dj, &nj);
          Tcp4 t;
          if (!ParseTcp4(dj, nj, &t) || t.seq != next || !SameHeaders(first, t)) break;
          if (t.payload > first.payload || run.back().payload != first.payload) break;  // only the last may be short
          if (total + t.payload > 65535) break;
          run.push_back(t);
          total += t.payload;
          next += static_cast<uint32_t>(t.payload);
          if (t.flags & 0x08) break;  // PSH ends a run
        }
      }
      if (run.size() < 2) {
        PutHdr(&b->data, 0, 0, 0, 0, 0, 0);
        b->data.insert(b->data.end(), d, d + n);
        b->lens.push_back(static_cast<uint32_t>(kVnetHdrBytes + n));
        segs->push_back(1);
        b->wire.push_back(1);
        i++;
        continue;
      }
      size_t totalLen = first.hdrLen;
      for (const Tcp4& t : run) totalLen += t.payload;
      // VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4; the checksum starts at the TCP header.
      PutHdr(&b->data, 1, 1, static_cast<uint16_t>(first.hdrLen), static_cast<uint16_t>(first.payload), 20, 16);
      size_t at0 = b->data.size();
      b->data.insert(b->data.end(), first.p, first.p + first.hdrLen);
      for (const Tcp4& t : run) b->data.insert(b->data.end(), t.p + t.hdrLen, t.p + t.len);
      uint8_t* h = b->data.data() + at0;
      h[2] = static_cast<uint8_t>(totalLen >> 8);
      h[3] = static_cast<uint8_t>(totalLen);
      h[10] = h[11] = 0;
      uint16_t ipSum = static_cast<uint16_t>(~Fold(SumWords(h, 20, 0)));
      h[10] = static_cast<uint8_t>(ipSum >> 8);
      h[11] = static_cast<uint8_t>(ipSum);
      h[33] = static_cast<uint8_t>(first.flags | (run.back().flags & 0x08));
      // NEEDS_CSUM: the field holds the pseudo-header sum (RFC 9293 §3.1), not inverted.
      uint32_t pseudo = SumWords(h + 12, 8, 0) + 6 + static_cast<uint32_t>(totalLen - 20);
      uint16_t ps = Fold(pseudo);
      h[36] = static_cast<uint8_t>(ps >> 8);
      h[37] = static_cast<uint8_t>(ps);
      b->lens.push_back(static_cast<uint32_t>(kVnetHdrBytes + totalLen));
      segs->push_back(static_cast<uint32_t>(run.size()));
      b->wire.push_back(static_cast<uint32_t>(run.size()));
      i += static_cast<uint32_t>(run.size());
    }
  }

  // Writes an assembled batch; returns how many of the original packets the kernel took.
  uint32_t WriteAssembled(Queue* q, const TxBatch& b) {
    uint32_t sent = 0;
    size_t off = 0;
    for (size_t k = 0; k < b.lens.size(); k++) {
      uint32_t nseg = b.segs[k];
      ssize_t n;
      do {
        n = write(q->fd, b.data.data() + off, b.lens[k]);
      } while (n < 0 && errno == EINTR);
      if (n < 0) {
        CountTxErrors(nseg, errno);
      } else {
        sent += nseg;
        q->txPackets.fetch_add(b.wire[k], std::memory_order_relaxed);
        CountWritten(b.lens[k] - kVnetHdrBytes, b.wire[k]);
      }
      off += b.lens[k];
    }
    return sent;
  }

  static void BytesOf(napi_env env, napi_value v, const uint8_t** data, size_t* len) {
    bool isTyped = false;
    napi_is_typedarray(env, v, &isTyped);
    if (isTyped) {
      napi_typedarray_type type;
      size_t length = 0;
      void* ptr = nullptr;
      napi_get_typedarray_info(env, v, &type, &length, &ptr, nullptr, nullptr);
      if (type == napi_uint8_array || type == napi_uint8_clamped_array) {
        *data = static_cast<const uint8_t*>(ptr);  // already adjusted by byteOffset
        *len = length;
        return;
      }
    }
    throw Napi::TypeError::New(Napi::Env(env), "packets must be Uint8Array (or Buffer)");
  }

  Napi::Value Write(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1) throw Napi::TypeError::New(env, "write(packet): packet is required");
    const uint8_t* data = nullptr;
    size_t len = 0;
    BytesOf(env, info[0], &data, &len);
    uint32_t sent = SendPackets(1, [&](uint32_t, const uint8_t** d, size_t* l) {
      *d = data;
      *l = len;
    }, nullptr);
    return Napi::Boolean::New(env, sent == 1);
  }

  // writeBatch(packets[]): returns how many the kernel took (or were queued); the rest are
  // counted in txErrors (txAgain for EAGAIN). Never blocks, never throws for I/O errors.
  Napi::Value WriteBatch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsArray()) {
      throw Napi::TypeError::New(env, "writeBatch(packets): packets must be an array");
    }
    napi_value arr = info[0];
    uint32_t n = 0;
    napi_get_array_length(env, arr, &n);
    std::vector<std::pair<const uint8_t*, size_t>> packets(n);
    for (uint32_t i = 0; i < n; i++) {
      napi_value el;
      if (napi_get_element(env, arr, i, &el) != napi_ok) throw Napi::Error::New(env);
      BytesOf(env, el, &packets[i].first, &packets[i].second);
    }
    uint32_t sent = SendPackets(n, [&](uint32_t i, const uint8_t** d, size_t* l) {
      *d = packets[i].first;
      *l = packets[i].second;
    }, nullptr);
    return Napi::Number::New(env, sent);
  }

  // writePacked(data, lengths, count, meta?): `count` packets back to back at the start of
  // `data` (a Uint8Array), packet i being lengths[i] bytes (an Int32Array). One call per
  // batch, whatever its size. `meta` (an Int32Array, vnetHdr only): per packet, what the
  // stack left to the device's offloads (OffloadHeader). Returns like writeBatch.
  Napi::Value WritePacked(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 3 || !info[0].IsTypedArray() || !info[1].IsTypedArray() || !info[2].IsNumber()) {
      throw Napi::TypeError::New(env, "writePacked(data, lengths, count): a Uint8Array, an Int32Array and a number");
    }
    const uint8_t* data = nullptr;
    size_t dataLen = 0;
    BytesOf(env, info[0], &data, &dataLen);
    Napi::TypedArray lt = info[1].As<Napi::TypedArray>();
    if (lt.TypedArrayType() != napi_int32_array) throw Napi::TypeError::New(env, "writePacked: lengths must be an Int32Array");
    const int32_t* lens = lt.As<Napi::Int32Array>().Data();
    int64_t count = info[2].As<Napi::Number>().Int64Value();
    if (count < 0 || static_cast<size_t>(count) > lt.ElementLength()) {
      throw Napi::RangeError::New(env, "writePacked: count must be between 0 and lengths.length");
    }
    // Where each packet starts (the vnetHdr path looks ahead, so packets are asked for out of order).
    std::vector<size_t>& starts = packedStarts_;
    starts.resize(static_cast<size_t>(count));
    size_t total = 0;
    for (int64_t i = 0; i < count; i++) {
      if (lens[i] < 0) throw Napi::RangeError::New(env, "writePacked: negative length");
      starts[static_cast<size_t>(i)] = total;
      total += static_cast<size_t>(lens[i]);
    }
    if (total > dataLen) throw Napi::RangeError::New(env, "writePacked: the lengths add up to more than data holds");
    // meta: per packet, what the stack left to the device's offloads (see OffloadHeader).
    const int32_t* meta = nullptr;
    if (info.Length() >= 4 && !info[3].IsUndefined()) {
      if (!info[3].IsTypedArray() || info[3].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
        throw Napi::TypeError::New(env, "writePacked: meta must be an Int32Array");
      }
      Napi::Int32Array mt = info[3].As<Napi::Int32Array>();
      if (static_cast<size_t>(count) > mt.ElementLength()) throw Napi::RangeError::New(env, "writePacked: meta is shorter than count");
      if (!vnetHdr_) throw Napi::TypeError::New(env, "writePacked: meta (transmit offloads) needs a device opened with vnetHdr");
      meta = mt.Data();
    }
    uint32_t sent = SendPackets(static_cast<uint32_t>(count), [&](uint32_t i, const uint8_t** d, size_t* l) {
      *d = data + starts[i];
      *l = static_cast<size_t>(lens[i]);
    }, meta);
    return Napi::Number::New(env, sent);
  }

  void FillIfreq(struct ifreq* ifr) {
    memset(ifr, 0, sizeof *ifr);
    strncpy(ifr->ifr_name, name_.c_str(), IFNAMSIZ - 1);
  }

  // The control socket was created in the device's namespace, so these ioctls reach the
  // right interface without switching namespaces again (a socket keeps the namespace
  // it was created in, see network_namespaces(7)).
  Napi::Value SetMtu(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    ThrowIfClosed(env);
    if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "setMtu(mtu): mtu must be a number");
    int mtu = info[0].As<Napi::Number>().Int32Value();
    struct ifreq ifr;
    FillIfreq(&ifr);
    ifr.ifr_mtu = mtu;
    if (ioctl(ctl_, SIOCSIFMTU, &ifr) < 0) {
      int e = errno;
      throw ErrnoError(env, e, "cannot set the MTU of " + name_ + " to " + std::to_string(mtu) + ": " + ErrnoText(e),
                       "ioctl");
    }
    return env.Undefined();
  }

  Napi::Value GetMtu(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    ThrowIfClosed(env);
    struct ifreq ifr;
    FillIfreq(&ifr);
    if (ioctl(ctl_, SIOCGIFMTU, &ifr) < 0) {
      int e = errno;
      throw ErrnoError(env, e, "cannot read the MTU of " + name_ + ": " + ErrnoText(e), "ioctl");
    }
    return Napi::Number::New(env, ifr.ifr_mtu);
  }

  int GetFlags(Napi::Env env) {
    struct ifreq ifr;
    FillIfreq(&ifr);
    if (ioctl(ctl_, SIOCGIFFLAGS, &ifr) < 0) {
      int e = errno;
      throw ErrnoError(env, e, "cannot read the flags of " + name_ + ": " + ErrnoText(e), "ioctl");
    }
    return ifr.ifr_flags;
  }

  Napi::Value SetUp(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    ThrowIfClosed(env);
    bool up = info.Length() < 1 || info[0].ToBoolean().Value();
    int flags = GetFlags(env);
    struct ifreq ifr;
    FillIfreq(&ifr);
    ifr.ifr_flags = static_cast<short>(up ? (flags | IFF_UP) : (flags & ~IFF_UP));
    if (ioctl(ctl_, SIOCSIFFLAGS, &ifr) < 0) {
      int e = errno;
      throw ErrnoError(env, e, std::string("cannot bring ") + name_ + (up ? " up: " : " down: ") + ErrnoText(e),
                       "ioctl");
    }
    return env.Undefined();
  }

  Napi::Value IsUp(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    ThrowIfClosed(env);
    return Napi::Boolean::New(env, (GetFlags(env) & IFF_UP) != 0);
  }

  // TUNSETPERSIST: a persistent device outlives its fd (delete it with `ip link del`).
  Napi::Value SetPersist(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    ThrowIfClosed(env);
    bool on = info.Length() < 1 || info[0].ToBoolean().Value();
    if (ioctl(fd_, TUNSETPERSIST, on ? 1 : 0) < 0) {
      int e = errno;
      throw ErrnoError(env, e, "cannot change persistence of " + name_ + ": " + ErrnoText(e), "ioctl");
    }
    return env.Undefined();
  }

  Napi::Value GetStats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("rxPackets", stats_.rxPackets);
    o.Set("rxBytes", stats_.rxBytes);
    o.Set("rxBatches", stats_.rxBatches);
    o.Set("txPackets", static_cast<double>(stats_.txPackets.load(std::memory_order_relaxed)));
    o.Set("txBytes", static_cast<double>(stats_.txBytes.load(std::memory_order_relaxed)));
    o.Set("txErrors", static_cast<double>(stats_.txErrors.load(std::memory_order_relaxed)));
    o.Set("txAgain", static_cast<double>(stats_.txAgain.load(std::memory_order_relaxed)));
    if (vnetHdr_) {
      o.Set("txGsoWrites", static_cast<double>(stats_.txGsoWrites.load(std::memory_order_relaxed)));
      o.Set("txGsoSegments", static_cast<double>(stats_.txGsoSegments.load(std::memory_order_relaxed)));
    }
    int lastErr = stats_.lastTxErrno.load(std::memory_order_relaxed);
    if (lastErr != 0) o.Set("lastTxError", ErrnoCode(lastErr));
    if (rxOffload_) {
      o.Set("rxGsoReads", stats_.rxGsoReads);
      o.Set("rxGsoSegments", stats_.rxGsoSegments);
      o.Set("rxCsumCompleted", stats_.rxCsumCompleted);
      Napi::Object drops = Napi::Object::New(env);
      for (int i = 1; i < rxoff::kDropReasons; i++) {
        if (stats_.rxOffloadDrops[i] > 0) drops.Set(rxoff::DropName(i), stats_.rxOffloadDrops[i]);
      }
      o.Set("rxOffloadDrops", drops);
    }
    if (queues_.size() > 1) {
      Napi::Array rx = Napi::Array::New(env, queues_.size());
      Napi::Array tx = Napi::Array::New(env, queues_.size());
      for (uint32_t i = 0; i < queues_.size(); i++) {
        rx.Set(i, queues_[i]->rxPackets);
        tx.Set(i, static_cast<double>(queues_[i]->txPackets.load(std::memory_order_relaxed)));
      }
      o.Set("rxQueuePackets", rx);
      o.Set("txQueuePackets", tx);
    }
    return o;
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    CloseInternal();
    return info.Env().Undefined();
  }

  // ref()/unref(): whether an open device keeps the Node.js process alive (default: yes).
  Napi::Value RefJs(const Napi::CallbackInfo& info) {
    unref_ = false;
    for (auto& q : queues_) {
      if (q->poll != nullptr) uv_ref(reinterpret_cast<uv_handle_t*>(q->poll));
    }
    return info.Env().Undefined();
  }
  Napi::Value UnrefJs(const Napi::CallbackInfo& info) {
    unref_ = true;
    for (auto& q : queues_) {
      if (q->poll != nullptr) uv_unref(reinterpret_cast<uv_handle_t*>(q->poll));
    }
    return info.Env().Undefined();
  }

  napi_env env_;
  std::vector<std::unique_ptr<Queue>> queues_;
  int fd_ = -1;  // the first queue's, for the ioctls and the `fd` property
  int ctl_ = -1;
  std::string name_;
  std::string netns_;
  int maxBatch_ = kDefaultMaxBatch;

  bool polling_ = false;
  bool closed_ = false;
  bool failed_ = false;
  bool selfRef_ = false;
  bool hook_ = false;
  bool unref_ = false;
  bool tearingDown_ = false;

  uint8_t* rxData_ = nullptr;
  size_t rxCap_ = 0;
  int32_t* rxMeta_ = nullptr;
  Napi::Reference<Napi::ArrayBuffer> rxBufRef_;
  Napi::Reference<Napi::Int32Array> rxMetaRef_;
  Napi::FunctionReference onBatch_;
  Napi::FunctionReference onError_;
  std::unique_ptr<Napi::AsyncContext> asyncCtx_;
  Stats stats_;

  bool txThread_ = false;
  bool vnetHdr_ = false;
  bool rxOffload_ = false;
  std::vector<size_t> packedStarts_;  // writePacked's scratch (JavaScript thread only)
  std::vector<std::vector<uint32_t>> txParts_;  // SendPackets' split by queue (JavaScript thread only)
  std::vector<int32_t> txPartMeta_;             // the meta of one part of that split (JavaScript thread only)
};

// Message for a failed open("/dev/net/tun") or TUNSETIFF.
Napi::Error OpenError(Napi::Env env, int e, const std::string& name, const std::string& netns,
                      const char* syscallName) {
  std::string where = netns.empty() ? std::string() : " in network namespace " + netns;
  std::string shown = name.empty() ? std::string("(kernel-chosen name)") : name;
  if (e == ENOENT || e == ENODEV || e == ENXIO) {
    if (std::string(syscallName) == "open") {
      return ErrnoError(env, e, "/dev/net/tun is missing (load the tun module: modprobe tun)", syscallName);
    }
  }
  if (e == EPERM || e == EACCES) {
    return ErrnoError(env, e,
                      "permission denied opening TUN device " + shown + where +
                          ": needs root or CAP_NET_ADMIN",
                      syscallName);
  }
  if (e == EBUSY) {
    return ErrnoError(env, e,
                      "TUN device " + shown + where + " is busy: " + ErrnoText(e) +
                          " (another process has it open; multiQueue devices can be shared)",
                      syscallName);
  }
  if (e == EINVAL && std::string(syscallName) == "ioctl") {
    return ErrnoError(env, e,
                      "cannot attach to " + shown + where + ": " + ErrnoText(e) +
                          " (an interface of that name exists but is not a TUN device with the same flags)",
                      syscallName);
  }
  return ErrnoError(env, e, "cannot open TUN device " + shown + where + ": " + ErrnoText(e), syscallName);
}

// open(name, { netns?, multiQueue?, queues?, maxBatch?, txThread?, vnetHdr? }) -> SynackTun
// Attaches to the TUN device `name` or creates it (IFF_TUN | IFF_NO_PI: bare IP
// datagrams, no packet-information header), optionally inside network namespace netns.
// With queues > 1 (IFF_MULTI_QUEUE) it attaches that many queues, one fd each.
Napi::Value Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) {
    throw Napi::TypeError::New(env, "open(name, opts): name must be a string");
  }
  std::string name = info[0].As<Napi::String>();
  Opened o;
  int rxOffloadAsked = -1;  // -1: the default (on with vnetHdr when the kernel agrees)
  bool multiQueue = false;
  int queues = 1;
  if (info.Length() > 1 && info[1].IsObject()) {
    Napi::Object opts = info[1].As<Napi::Object>();
    Napi::Value ns = opts.Get("netns");
    if (ns.IsString()) o.netns = ns.As<Napi::String>().Utf8Value();
    Napi::Value mq = opts.Get("multiQueue");
    multiQueue = mq.ToBoolean().Value();
    Napi::Value qv = opts.Get("queues");
    if (!qv.IsUndefined()) {
      double v = qv.IsNumber() ? qv.As<Napi::Number>().DoubleValue() : 0;
      if (!qv.IsNumber() || v != static_cast<double>(static_cast<int64_t>(v)) || v < 1 || v > kMaxQueues) {
        throw CodeError(env, "EINVAL", "queues must be a whole number from 1 to " + std::to_string(kMaxQueues));
      }
      queues = static_cast<int>(v);
      if (queues > 1 && !mq.IsUndefined() && !multiQueue) {
        throw CodeError(env, "EINVAL", "queues > 1 needs a multi-queue device: leave multiQueue unset or true");
      }
      if (queues > 1) multiQueue = true;
    }
    o.txThread = opts.Get("txThread").ToBoolean().Value();
    o.vnetHdr = opts.Get("vnetHdr").ToBoolean().Value();
    Napi::Value rxo = opts.Get("rxOffload");
    if (!rxo.IsUndefined()) {
      rxOffloadAsked = rxo.ToBoolean().Value() ? 1 : 0;
      if (rxOffloadAsked == 1 && !o.vnetHdr) throw CodeError(env, "EINVAL", "rxOffload needs vnetHdr: true");
    }
    Napi::Value mb = opts.Get("maxBatch");
    if (mb.IsNumber()) {
      int v = mb.As<Napi::Number>().Int32Value();
      if (v < 1 || v > kMaxMaxBatch) {
        throw CodeError(env, "EINVAL", "maxBatch must be between 1 and " + std::to_string(kMaxMaxBatch));
      }
      o.maxBatch = v;
    }
  }
  std::string why;
  if (!name.empty() && !ValidIfName(name, &why)) {
    throw CodeError(env, "EINVAL", "TUN device name '" + name + "' " + why);
  }

  {
    NetnsScope inNetns(env, o.netns);  // throws a readable error for a bad namespace
    // Closes what was opened so far when a later step fails.
    auto closeAll = [&o]() {
      for (int f : o.fds) close(f);
      o.fds.clear();
    };
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
    for (int q = 0; q < queues; q++) {
      int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
      if (fd < 0) {
        int e = errno;
        closeAll();
        throw OpenError(env, e, name, o.netns, "open");
      }
      o.fds.push_back(fd);
      if (q == 0 && multiQueue) {
        // TUNGETFEATURES (Linux 2.6.27+) lists the flags this kernel's TUN driver knows.
        unsigned int features = 0;
        if (ioctl(fd, TUNGETFEATURES, &features) < 0 || (features & IFF_MULTI_QUEUE) == 0) {
          closeAll();
          throw CodeError(env, "ENOTSUP",
                          "this kernel's TUN driver has no multi-queue support (IFF_MULTI_QUEUE, Linux 3.8 or later): use queues: 1");
        }
      }
      ifr.ifr_flags = IFF_TUN | IFF_NO_PI | (multiQueue ? IFF_MULTI_QUEUE : 0) | (o.vnetHdr ? IFF_VNET_HDR : 0);
      // The next queues attach to the interface this one made or found ("tun%d" is resolved now).
      if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        int e = errno;
        closeAll();
        throw OpenError(env, e, name, o.netns, "ioctl");
      }
      ifr.ifr_name[IFNAMSIZ - 1] = '\0';
      if (o.vnetHdr) {
        int hdrSize = static_cast<int>(kVnetHdrBytes);
        if (ioctl(fd, TUNSETVNETHDRSZ, &hdrSize) < 0) {
          int e = errno;
          closeAll();
          throw ErrnoError(env, e, "cannot set the virtio-net header size of " + name + ": " + ErrnoText(e), "ioctl");
        }
      }
    }
    if (o.vnetHdr && rxOffloadAsked != 0) {
      // Receive offloads (drivers/net/tun.c, set_offload()): TUN_F_CSUM, we complete
      // checksums the kernel leaves partial (VIRTIO_NET_HDR_F_NEEDS_CSUM); TUN_F_TSO4/6, we
      // take TCP segments of up to 64 KiB (VIRTIO_NET_HDR_GSO_TCPV4/6) and cut them. Not
      // TSO_ECN, UFO or USO: the kernel segments those itself. A property of the interface,
      // so one queue's fd says it for all.
      unsigned int offloads = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
      if (ioctl(o.fds[0], TUNSETOFFLOAD, offloads) == 0) {
        o.rxOffload = true;
      } else if (rxOffloadAsked == 1) {
        int e = errno;
        for (int f : o.fds) close(f);
        o.fds.clear();
        throw ErrnoError(env, e, "this kernel's TUN driver refused the receive offloads (TUNSETOFFLOAD): " + ErrnoText(e) + ": use rxOffload: false", "ioctl");
      }
    } else if (o.vnetHdr) {
      // Off: also on an existing interface whose last user had turned them on.
      ioctl(o.fds[0], TUNSETOFFLOAD, 0u);
    }
    int ctl = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (ctl < 0) ctl = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (ctl < 0) {
      int e = errno;
      closeAll();
      throw ErrnoError(env, e, "cannot create a control socket for " + name + ": " + ErrnoText(e), "socket");
    }
    o.ctl = ctl;
    o.name = ifr.ifr_name;
  }  // back in the original namespace here

  Napi::FunctionReference* ctor = env.GetInstanceData<Napi::FunctionReference>();
  try {
    Napi::Object obj = ctor->New({Napi::External<Opened>::New(env, &o)});
    return obj;
  } catch (...) {
    for (int f : o.fds) close(f);  // the constructor did not take ownership
    if (o.ctl >= 0) close(o.ctl);
    throw;
  }
}

// vnetReceive(read) -> { drop?: string, packets: Uint8Array[], tcpChecksummed?: boolean }: what the receive path with
// rxOffload makes of one read(2) (a virtio-net header and the packet behind it), with the
// same code (rx-offload.h): the packets the stack would be given (copies), or the drop
// reason. For tests and tools; no device needed.
Napi::Value VnetReceive(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw Napi::TypeError::New(env, "vnetReceive(read): read must be a Uint8Array");
  }
  Napi::Uint8Array in = info[0].As<Napi::Uint8Array>();
  if (in.ByteLength() > kMaxPacketBytes + kVnetHdrBytes) {
    throw CodeError(env, "EINVAL", "vnetReceive: a read is at most " + std::to_string(kMaxPacketBytes + kVnetHdrBytes) + " bytes");
  }
  std::vector<uint8_t> raw(in.Data(), in.Data() + in.ByteLength());
  const size_t got = raw.size();
  const size_t pn = got >= kVnetHdrBytes ? got - kVnetHdrBytes : 0;
  rxoff::Gso gso;
  bool checksummed = false;
  int why = rxoff::Classify(raw.data(), got, raw.data() + kVnetHdrBytes, pn, &gso, &checksummed);
  Napi::Object out = Napi::Object::New(env);
  Napi::Array packets = Napi::Array::New(env);
  out.Set("packets", packets);
  if (why != rxoff::kOk) {
    out.Set("drop", rxoff::DropName(why));
    return out;
  }
  out.Set("tcpChecksummed", checksummed);
  uint32_t i = 0;
  if (gso.active()) {
    std::vector<uint8_t> seg(kMaxPacketBytes);
    while (gso.active()) {
      size_t len = rxoff::EmitSegment(&gso, seg.data());
      Napi::Uint8Array p = Napi::Uint8Array::New(env, len);
      memcpy(p.Data(), seg.data(), len);
      packets.Set(i++, p);
    }
  } else if (pn > 0) {
    Napi::Uint8Array p = Napi::Uint8Array::New(env, pn);
    memcpy(p.Data(), raw.data() + kVnetHdrBytes, pn);
    packets.Set(i++, p);
  }
  return out;
}

Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = Tun::Init(env);
  env.SetInstanceData<Napi::FunctionReference>(new Napi::FunctionReference(Napi::Persistent(ctor)));
  exports.Set("open", Napi::Function::New(env, Open, "open"));
  exports.Set("netnsEnter", Napi::Function::New(env, NetnsEnterJs, "netnsEnter"));
  exports.Set("netnsRestore", Napi::Function::New(env, NetnsRestoreJs, "netnsRestore"));
  exports.Set("maxPacketBytes", Napi::Number::New(env, static_cast<double>(kMaxPacketBytes)));
  exports.Set("vnetReceive", Napi::Function::New(env, VnetReceive, "vnetReceive"));
  Napi::Array reasons = Napi::Array::New(env, rxoff::kDropReasons);
  reasons.Set(0u, "");
  for (int i = 1; i < rxoff::kDropReasons; i++) reasons.Set(static_cast<uint32_t>(i), rxoff::DropName(i));
  exports.Set("vnetDropReasons", reasons);
  exports.Set("platformSupported", Napi::Boolean::New(env, true));
  return exports;
}

#else  // !__linux__

Napi::Value Unsupported(const Napi::CallbackInfo& info) {
  throw CodeError(info.Env(), "ENOSYS", "TUN devices and network namespaces are Linux-only");
}

Napi::Object InitModule(Napi::Env env, Napi::Object exports) {
  exports.Set("open", Napi::Function::New(env, Unsupported, "open"));
  exports.Set("netnsEnter", Napi::Function::New(env, Unsupported, "netnsEnter"));
  exports.Set("netnsRestore", Napi::Function::New(env, Unsupported, "netnsRestore"));
  exports.Set("maxPacketBytes", Napi::Number::New(env, 65536));
  exports.Set("vnetReceive", Napi::Function::New(env, Unsupported, "vnetReceive"));
  exports.Set("platformSupported", Napi::Boolean::New(env, false));
  return exports;
}

#endif  // __linux__

}  // namespace synack_tun

static Napi::Object SynackTunInit(Napi::Env env, Napi::Object exports) {
  return synack_tun::InitModule(env, exports);
}

NODE_API_MODULE(synack_tun, SynackTunInit)
