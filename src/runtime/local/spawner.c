// ctl-spawner: starts the step host's steps (supervisor.mjs), so that the host does not fork its whole
// Node process for each one (Node's spawn forks the ~55 MB host, page tables and copy-on-write faults, and blocks the host until the
// child has exec'd). One spawner per host, started by it with stdin and stdout as pipes; it dies with
// the host (PR_SET_PDEATHSIG), and bwrap's --die-with-parent then ends the sandboxes. It also reads the steps'
// stdout, stderr and info pipes and passes what they carry on over its stdout: the host then holds no pipe, stream
// and epoll registration of its own per step, and learns a step's output, its end and its exit from one pipe.
//
// Requests on stdin, one frame each: u32 length, then (all integers u32 little-endian)
//   START: type=1, id, flags (1 setsid, 2 uid/gid, 4 info pipe on fd 3, 8 the sandbox launcher built in: argv is
//          ctl-sandbox's, run in the forked child without an exec), uid, gid, command, cwd,
//          cgroup folder ("" for none), argc, argv..., envc, env..., nblobs, blobs (u32 length + bytes)
//          strings are u32 length + bytes with a trailing NUL (counted); blob i becomes fd 4+i.
//   CLOSE: type=2, then pairs (id, stream): stop reading that pipe of the step and close it (the host gave up on it:
//          a process that left the step's session may hold it open).
// Events on stdout, one text line each, O followed by its bytes:
//   S id pid                      started
//   E id stage errno              not started (stage: exec, cgroup, setgroups, setgid, setuid, setsid, fds)
//   O id stream len\n<len bytes>  the step wrote on stream 0 (stdout), 1 (stderr) or 2 (info, fd 3)
//   C id stream                   that stream ended (after its last O; never for a stream the host closed)
//   X id pid status               exited (the raw wait status)
// Anything malformed ends the spawner (exit 2): the host reports the steps in flight Lost.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_FRAME (64u << 20) /* blobs are ConfigMap and Secret files: 1 MiB each in Kubernetes */
#define MAX_LIST 65536u       /* arguments, environment entries */
#define MAX_BLOBS 256u        /* fds 4..259 */
#define PATH_BUF 4096
#define PROTOCOL "3" /* the host's second argument: 2 = the spawner reads the steps' pipes (O and C events), 3 = and runs ctl-sandbox in-process (F_SANDBOX) */
#define READ_CHUNK (64u << 10) /* one read of a step's pipe at most, one O event */
#define FLUSH_AT (256u << 10)  /* events buffered beyond this go out before more pipes are read */

enum { T_START = 1, T_CLOSE = 2 };
enum { F_SETSID = 1, F_IDS = 2, F_INFO = 4, F_SANDBOX = 8 };

/* sandbox-launcher.c, compiled in (CTL_SANDBOX_IN_SPAWNER): a sandbox set up by the forked child itself saves the
 * exec of ctl-sandbox and its libc start-up (~0.4 ms of CPU a step here, most of it CPU-feature probing that a
 * hypervisor traps). */
int ctl_sandbox_main(int argc, char **argv);
extern pid_t ctl_sandbox_parent;

struct slot {
  uint32_t id;
  pid_t pid;     /* 0 once reaped */
  int fds[3];    /* read ends still read: stdout, stderr, info (-1 when ended or closed) */
  int used;
};

static struct slot *slots;
static size_t nslots;
static int devnull = -1;
static int epfd = -1;

/* epoll tags: a slot's pipe is (index << 2 | stream); these two are the spawner's own. */
#define TAG_STDIN ((uint64_t)1 << 62)
#define TAG_SIGNAL ((uint64_t)1 << 63)

static void die(const char *why) {
  fprintf(stderr, "ctl-spawner: %s\n", why);
  exit(2);
}

/* What holds other steps' data (the requests: their environments and files; the events: their raw output) lives in
 * mappings a fork does not copy (MADV_WIPEONFORK): a sandbox run in our forked child (F_SANDBOX) keeps a copy of our
 * memory for its whole life, and must hold nothing of another step's. */
static void *wiped(size_t len) {
  void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) die("out of memory");
  if (madvise(p, len, MADV_WIPEONFORK) != 0) die("madvise(MADV_WIPEONFORK) failed");
  return p;
}

/* A wiped mapping resized (the flag goes with the mapping when it moves). */
static void *rewiped(void *p, size_t old, size_t len) {
  void *q = mremap(p, old, len, MREMAP_MAYMOVE);
  if (q == MAP_FAILED) die("out of memory");
  return q;
}

/* The stack below main's frame, zeroed after each turn of the loop: what deeper calls left there (pieces of a request
 * or of a step's output, copied on their way) must not be in the stack a forked child starts with. 64 KiB covers
 * the deepest call here (start and a vfork child's exec lookup). */
__attribute__((noinline)) static void scrub_stack(void) {
  char below[64 << 10];
  explicit_bzero(below, sizeof below);
  __asm__ volatile("" : : "r"(below) : "memory");
}

/* Events wait here and go out together once per turn of the loop: one write, one wake-up of the host. */
static char *outb;
static size_t outlen, outcap;

static void flush(void) {
  size_t at = 0;
  while (at < outlen) {
    ssize_t n = write(1, outb + at, outlen - at);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      struct pollfd pf = {1, POLLOUT, 0};
      poll(&pf, 1, -1);
      continue;
    }
    if (n <= 0) exit(3); /* the host is gone */
    at += (size_t)n;
  }
  outlen = 0;
}

static void emit(const void *data, size_t len) {
  if (outlen + len > outcap) {
    size_t cap = outcap ? outcap : 4096;
    while (cap < outlen + len) cap *= 2;
    outb = outb ? rewiped(outb, outcap, cap) : wiped(cap);
    outcap = cap;
  }
  memcpy(outb + outlen, data, len);
  outlen += len;
}

static struct slot *slot_new(void) {
  for (size_t i = 0; i < nslots; i++)
    if (!slots[i].used) return &slots[i];
  size_t n = nslots ? nslots * 2 : 64;
  struct slot *s = realloc(slots, n * sizeof *s);
  if (!s) die("out of memory");
  memset(s + nslots, 0, (n - nslots) * sizeof *s);
  slots = s;
  size_t first = nslots;
  nslots = n;
  return &slots[first];
}

static void slot_release_if_done(struct slot *s) {
  if (s->pid == 0 && s->fds[0] < 0 && s->fds[1] < 0 && s->fds[2] < 0) s->used = 0;
}

/* Stops reading a pipe of the step (closing it takes it out of the epoll set). */
static void slot_close_fd(struct slot *s, int stream) {
  if (s->fds[stream] < 0) return;
  close(s->fds[stream]);
  s->fds[stream] = -1;
  slot_release_if_done(s);
}

/* Reads what one pipe of a step holds now (its read end does not block): an O event, or its end as a C event. */
static void drain(size_t index, int stream) {
  if (index >= nslots) return;
  struct slot *s = &slots[index];
  /* An event for a pipe closed earlier in this turn: nothing to read. */
  if (!s->used || s->fds[stream] < 0) return;
  static char *data;
  if (!data) data = wiped(READ_CHUNK);
  ssize_t n;
  do n = read(s->fds[stream], data, READ_CHUNK);
  while (n < 0 && errno == EINTR);
  char line[96];
  if (n > 0) {
    emit(line, (size_t)snprintf(line, sizeof line, "O %u %d %zd\n", s->id, stream, n));
    emit(data, (size_t)n);
    return;
  }
  if (n < 0 && errno == EAGAIN) return;
  uint32_t id = s->id;
  slot_close_fd(s, stream);
  emit(line, (size_t)snprintf(line, sizeof line, "C %u %d\n", id, stream));
}

/* A bounded reader over one frame's payload. */
struct cur {
  const unsigned char *p, *end;
};

static uint32_t u32(struct cur *c) {
  if (c->end - c->p < 4) die("malformed frame: short integer");
  uint32_t v = (uint32_t)c->p[0] | (uint32_t)c->p[1] << 8 | (uint32_t)c->p[2] << 16 | (uint32_t)c->p[3] << 24;
  c->p += 4;
  return v;
}

static const unsigned char *bytes(struct cur *c, uint32_t *len) {
  *len = u32(c);
  if ((uint64_t)*len > (uint64_t)(c->end - c->p)) die("malformed frame: length beyond the frame");
  const unsigned char *b = c->p;
  c->p += *len;
  return b;
}

static char *str(struct cur *c) {
  uint32_t len;
  const unsigned char *b = bytes(c, &len);
  if (len == 0 || b[len - 1] != 0 || memchr(b, 0, len - 1)) die("malformed frame: bad string");
  return (char *)b; /* points into the frame, which outlives the start */
}

/* What the child reports through its close-on-exec pipe when it cannot become the step. */
struct failure {
  int stage;
  int err;
};
static const char *const STAGES[] = {"exec", "cgroup", "setgroups", "setgid", "setuid", "setsid", "fds"};
enum { S_EXEC, S_CGROUP, S_SETGROUPS, S_SETGID, S_SETUID, S_SETSID, S_FDS };

__attribute__((noreturn)) static void fail(int errpipe, int stage) {
  struct failure f = {stage, errno};
  ssize_t n = write(errpipe, &f, sizeof f);
  (void)n;
  _exit(127);
}

/* execve, and a file without a #! line that the kernel refuses (ENOEXEC) run by /bin/sh, as execvp runs it
 * (and so Node's spawn): `sh file args...`. The new argv is on the child's own stack. */
static void exec_file(const char *path, char *const argv[], char *const envp[]) {
  execve(path, argv, envp);
  if (errno != ENOEXEC) return;
  size_t argc = 0;
  while (argv[argc]) argc++;
  char *sh[argc + 3];
  sh[0] = (char *)"/bin/sh";
  sh[1] = (char *)path;
  for (size_t i = 1; i < argc; i++) sh[i + 1] = argv[i];
  sh[argc > 0 ? argc + 1 : 2] = NULL;
  execve("/bin/sh", sh, envp);
}

/* execvpe with the PATH of the step's environment (as libuv does), /usr/bin:/bin without one. */
static void exec_path(const char *file, char *const argv[], char *const envp[]) {
  if (strchr(file, '/')) {
    exec_file(file, argv, envp);
    return;
  }
  if (!*file) {
    errno = ENOENT;
    return;
  }
  const char *path = "/usr/bin:/bin";
  for (char *const *e = envp; *e; e++)
    if (strncmp(*e, "PATH=", 5) == 0) {
      path = *e + 5;
      break;
    }
  size_t flen = strlen(file);
  int eacces = 0;
  char buf[PATH_BUF];
  for (const char *p = path;; p++) {
    const char *colon = strchrnul(p, ':');
    size_t dlen = (size_t)(colon - p);
    if (dlen + 1 + flen + 1 <= sizeof buf) {
      memcpy(buf, p, dlen);
      size_t at = dlen;
      if (dlen > 0) buf[at++] = '/';
      memcpy(buf + at, file, flen + 1);
      exec_file(buf, argv, envp);
      if (errno == EACCES) eacces = 1;
      else if (errno != ENOENT && errno != ENOTDIR) return;
    }
    if (!*colon) break;
    p = colon;
  }
  errno = eacces ? EACCES : ENOENT;
}

struct start {
  uint32_t id, flags, uid, gid;
  char *cmd, *cwd, *cgroup;
  pid_t parent;  /* the spawner's own pid, for a sandbox run in its child */
  char **argv, **envp;
  int nfds;      /* fds the child gets: 0..nfds-1 */
  size_t slot;   /* the step's slot, once started (its pipes are read under it) */
  int src[4 + MAX_BLOBS];
};

/* A fork copies the registers too, and libc's string functions leave what they last copied or searched in the
 * vector registers (a request's strings, a step's output), which the child would later save on its stack (a lazy
 * symbol binding does): a sandbox run in our child starts with them zeroed. */
static void clear_vector_registers(void) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f"))
    __asm__ volatile(
        "vpxord %%zmm16, %%zmm16, %%zmm16\n vpxord %%zmm17, %%zmm17, %%zmm17\n vpxord %%zmm18, %%zmm18, %%zmm18\n"
        "vpxord %%zmm19, %%zmm19, %%zmm19\n vpxord %%zmm20, %%zmm20, %%zmm20\n vpxord %%zmm21, %%zmm21, %%zmm21\n"
        "vpxord %%zmm22, %%zmm22, %%zmm22\n vpxord %%zmm23, %%zmm23, %%zmm23\n vpxord %%zmm24, %%zmm24, %%zmm24\n"
        "vpxord %%zmm25, %%zmm25, %%zmm25\n vpxord %%zmm26, %%zmm26, %%zmm26\n vpxord %%zmm27, %%zmm27, %%zmm27\n"
        "vpxord %%zmm28, %%zmm28, %%zmm28\n vpxord %%zmm29, %%zmm29, %%zmm29\n vpxord %%zmm30, %%zmm30, %%zmm30\n"
        "vpxord %%zmm31, %%zmm31, %%zmm31\n vpxord %%zmm0, %%zmm0, %%zmm0\n vpxord %%zmm1, %%zmm1, %%zmm1\n"
        "vpxord %%zmm2, %%zmm2, %%zmm2\n vpxord %%zmm3, %%zmm3, %%zmm3\n vpxord %%zmm4, %%zmm4, %%zmm4\n"
        "vpxord %%zmm5, %%zmm5, %%zmm5\n vpxord %%zmm6, %%zmm6, %%zmm6\n vpxord %%zmm7, %%zmm7, %%zmm7\n"
        "vpxord %%zmm8, %%zmm8, %%zmm8\n vpxord %%zmm9, %%zmm9, %%zmm9\n vpxord %%zmm10, %%zmm10, %%zmm10\n"
        "vpxord %%zmm11, %%zmm11, %%zmm11\n vpxord %%zmm12, %%zmm12, %%zmm12\n vpxord %%zmm13, %%zmm13, %%zmm13\n"
        "vpxord %%zmm14, %%zmm14, %%zmm14\n vpxord %%zmm15, %%zmm15, %%zmm15\n" ::: "memory");
  else if (__builtin_cpu_supports("avx"))
    __asm__ volatile("vzeroall" ::: "memory");
  else
    __asm__ volatile(
        "pxor %%xmm0, %%xmm0\n pxor %%xmm1, %%xmm1\n pxor %%xmm2, %%xmm2\n pxor %%xmm3, %%xmm3\n"
        "pxor %%xmm4, %%xmm4\n pxor %%xmm5, %%xmm5\n pxor %%xmm6, %%xmm6\n pxor %%xmm7, %%xmm7\n"
        "pxor %%xmm8, %%xmm8\n pxor %%xmm9, %%xmm9\n pxor %%xmm10, %%xmm10\n pxor %%xmm11, %%xmm11\n"
        "pxor %%xmm12, %%xmm12\n pxor %%xmm13, %%xmm13\n pxor %%xmm14, %%xmm14\n pxor %%xmm15, %%xmm15\n" ::: "memory");
#endif
}

/* In the vfork child: it shares our memory until it execs, so it writes only to its own stack (and errno, which
 * the parent does not read after vfork) and makes async-signal-safe calls (ids through raw system calls, as
 * posix_spawn does); it never returns. With F_SANDBOX it is a forked child and becomes ctl-sandbox. */
__attribute__((noinline, noreturn)) static void child(struct start *s, int errpipe) {
  sigset_t none;
  sigemptyset(&none);
  for (int sig = 1; sig < NSIG; sig++) signal(sig, SIG_DFL); /* ignored signals would survive exec */
  sigprocmask(SIG_SETMASK, &none, NULL);
  if ((s->flags & F_SETSID) && setsid() < 0) fail(errpipe, S_SETSID);
  /* Every source above the targets first, then each onto its number; the error pipe right after them. */
  int n = s->nfds, hi = n + 1, tmp[4 + MAX_BLOBS], err;
  for (int i = 0; i < n; i++)
    if ((tmp[i] = fcntl(s->src[i], F_DUPFD_CLOEXEC, hi)) < 0) fail(errpipe, S_FDS);
  if ((err = fcntl(errpipe, F_DUPFD_CLOEXEC, hi)) < 0 || dup3(err, n, O_CLOEXEC) < 0) fail(errpipe, S_FDS);
  errpipe = n;
  for (int i = 0; i < n; i++)
    if (dup2(tmp[i], i) < 0) fail(errpipe, S_FDS);
  if (syscall(SYS_close_range, (unsigned)n + 1, ~0u, 0) < 0)
    for (int fd = n + 1; fd < 65536; fd++) close(fd);
  /* The pipes were made non-blocking for the spawner's read ends; the step's write ends block, as anywhere. */
  for (int i = 1; i < n && i < 4; i++)
    if (fcntl(i, F_SETFL, 0) < 0) fail(errpipe, S_FDS);
  if (chdir(s->cwd) < 0) fail(errpipe, S_EXEC); /* Node reports it as a spawn error too */
  if (*s->cgroup) {
    /* Into the step's cgroup before it is anything else: whatever it starts is in there too. */
    char buf[PATH_BUF];
    size_t len = strlen(s->cgroup);
    if (len + sizeof "/cgroup.procs" > sizeof buf) {
      errno = ENAMETOOLONG;
      fail(errpipe, S_CGROUP);
    }
    memcpy(buf, s->cgroup, len);
    memcpy(buf + len, "/cgroup.procs", sizeof "/cgroup.procs");
    int fd = open(buf, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, "0", 1) != 1) fail(errpipe, S_CGROUP);
    close(fd);
  }
  if (s->flags & F_IDS) {
    if (syscall(SYS_setgroups, 0, NULL) < 0) fail(errpipe, S_SETGROUPS);
    if (syscall(SYS_setgid, s->gid) < 0) fail(errpipe, S_SETGID);
    if (syscall(SYS_setuid, s->uid) < 0) fail(errpipe, S_SETUID);
  }
  if (s->flags & F_SANDBOX) {
    clear_vector_registers();
    /* A forked child (see start): from here on it is ctl-sandbox, which reports its own failures on stderr and in
     * its exit status, as the exec'd binary would. The error pipe closes as an exec would close it. */
    extern char **environ;
    environ = s->envp;
    prctl(PR_SET_NAME, "ctl-sandbox", 0, 0, 0); /* what ps and /proc/PID/comm show of it, as of the exec'd launcher */
    close(errpipe);
    int argc = 0;
    while (s->argv[argc]) argc++;
    ctl_sandbox_parent = s->parent; /* us: the sandbox ends with us, even if we are gone already */
    _exit(ctl_sandbox_main(argc, s->argv));
  }
  exec_path(s->cmd, s->argv, s->envp);
  fail(errpipe, S_EXEC);
}

/* A copy of one step's argv and envp (pointer arrays and strings), command, folder and cgroup in a fresh mapping:
 * nothing else is in it. */
struct own {
  void *p;
  size_t len;
};

/* Returns -1 (errno set) when the mapping cannot be made: a start error of this step, not the spawner's end. */
__attribute__((noinline)) static int own_strings(struct start *s, struct own *own) {
  size_t argc = 0, envc = 0, len = strlen(s->cmd) + strlen(s->cwd) + strlen(s->cgroup) + 3;
  while (s->argv[argc]) len += strlen(s->argv[argc++]) + 1;
  while (s->envp[envc]) len += strlen(s->envp[envc++]) + 1;
  len += (argc + envc + 2) * sizeof(char *);
  void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return -1;
  char **argv = p, **envp = argv + argc + 1;
  char *at = (char *)(envp + envc + 1);
  for (size_t i = 0; i < argc; i++) at = stpcpy(argv[i] = at, s->argv[i]) + 1;
  argv[argc] = NULL;
  for (size_t i = 0; i < envc; i++) at = stpcpy(envp[i] = at, s->envp[i]) + 1;
  envp[envc] = NULL;
  /* The folder and cgroup too: read in the child, where the request they point into is zeros. */
  s->cmd = strcpy(at, s->cmd);
  at += strlen(at) + 1;
  s->cwd = strcpy(at, s->cwd);
  at += strlen(at) + 1;
  s->cgroup = strcpy(at, s->cgroup);
  free(s->argv);
  free(s->envp);
  s->argv = argv;
  s->envp = envp;
  *own = (struct own){p, len};
  return 0;
}

static void start(struct cur *c) {
  struct start s;
  s.id = u32(c);
  s.flags = u32(c);
  s.uid = u32(c);
  s.gid = u32(c);
  s.cmd = str(c);
  s.cwd = str(c);
  s.cgroup = str(c);
  uint32_t argc = u32(c);
  if (argc == 0 || argc > MAX_LIST) die("malformed frame: argument count");
  s.argv = calloc((size_t)argc + 1, sizeof(char *));
  if (!s.argv) die("out of memory");
  for (uint32_t i = 0; i < argc; i++) s.argv[i] = str(c);
  uint32_t envc = u32(c);
  if (envc > MAX_LIST) die("malformed frame: environment count");
  s.envp = calloc((size_t)envc + 1, sizeof(char *));
  if (!s.envp) die("out of memory");
  for (uint32_t i = 0; i < envc; i++) s.envp[i] = str(c);
  uint32_t nblobs = u32(c);
  if (nblobs > MAX_BLOBS || (nblobs > 0 && !(s.flags & F_INFO))) die("malformed frame: blob count");
  if (s.flags & ~(uint32_t)(F_SETSID | F_IDS | F_INFO | F_SANDBOX)) die("malformed frame: flags");

  const unsigned char *blob[MAX_BLOBS];
  uint32_t blen[MAX_BLOBS];
  for (uint32_t i = 0; i < nblobs; i++) blob[i] = bytes(c, &blen[i]);
  if (c->p != c->end) die("malformed frame: trailing bytes");

  /* From here on a failure is the step's (out of fds or processes), told as a start error: the others run on. */
  int out[2] = {-1, -1}, errp[2] = {-1, -1}, info[2] = {-1, -1}, report[2] = {-1, -1}, mem[MAX_BLOBS], nmem = 0;
  pid_t pid = -1;
  struct failure f = {S_FDS, 0};
  if (pipe2(out, O_CLOEXEC | O_NONBLOCK) < 0 || pipe2(errp, O_CLOEXEC | O_NONBLOCK) < 0 || ((s.flags & F_INFO) && pipe2(info, O_CLOEXEC | O_NONBLOCK) < 0) ||
      pipe2(report, O_CLOEXEC) < 0)
    goto failed;
  for (uint32_t i = 0; i < nblobs; i++) {
    /* A memfd rather than a pipe: bwrap reads it whole whatever its size, and nobody has to feed it. */
    if ((mem[nmem] = memfd_create("ctl-fd", MFD_CLOEXEC)) < 0) goto failed;
    int fd = mem[nmem++];
    for (uint32_t done = 0; done < blen[i];) {
      ssize_t w = write(fd, blob[i] + done, blen[i] - done);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) goto failed;
      done += (uint32_t)w;
    }
    if (lseek(fd, 0, SEEK_SET) < 0) goto failed;
  }
  /* Read from the next turn on, under the slot the step gets (level-triggered: what is there by then is read then). */
  s.slot = (size_t)(slot_new() - slots);
  int reads[] = {out[0], errp[0], info[0]};
  for (int i = 0; i < 3; i++) {
    if (reads[i] < 0) continue;
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)s.slot << 2 | (uint64_t)i};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, reads[i], &ev) < 0) goto failed; /* closed below: out of the set again */
  }
  s.src[0] = devnull;
  s.src[1] = out[1];
  s.src[2] = errp[1];
  s.nfds = 3;
  if (s.flags & F_INFO) s.src[s.nfds++] = info[1];
  for (int i = 0; i < nmem; i++) s.src[s.nfds++] = mem[i];

  /* vfork: no copy of our page tables and no copy-on-write faults after it; we wait for the exec anyway. The built-in
   * launcher runs long in the child without an exec: a real fork (our memory is small), which gets this step's own
   * arguments and environment in a mapping of their own (the request they came in is wiped in the child). */
  struct own own = {NULL, 0};
  s.parent = getpid();
  if ((s.flags & F_SANDBOX) && own_strings(&s, &own) < 0) goto failed;
  pid = (s.flags & F_SANDBOX) ? fork() : vfork();
  if (pid == 0) child(&s, report[1]);
  if (pid < 0) goto failed;
  close(report[1]);
  report[1] = -1;
  ssize_t n;
  do n = read(report[0], &f, sizeof f);
  while (n < 0 && errno == EINTR);
  if (n == (ssize_t)sizeof f) {
    /* Never became the step: reaped here, no exit event. */
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
    }
    pid = -1;
  }
  if (0) {
  failed:
    f = (struct failure){S_FDS, errno};
  }
  if (own.len) munmap(own.p, own.len);
  else {
    free(s.argv);
    free(s.envp);
  }
  /* The child's ends are the child's now (or nobody's). */
  int mine[] = {out[1], errp[1], info[1], report[0], report[1]};
  for (size_t i = 0; i < sizeof mine / sizeof *mine; i++)
    if (mine[i] >= 0) close(mine[i]);
  for (int i = 0; i < nmem; i++) close(mem[i]);
  char line[128];
  if (pid < 0) {
    int theirs[] = {out[0], errp[0], info[0]};
    for (size_t i = 0; i < 3; i++)
      if (theirs[i] >= 0) close(theirs[i]);
    int stage = f.stage >= 0 && f.stage <= S_FDS ? f.stage : S_EXEC;
    emit(line, (size_t)snprintf(line, sizeof line, "E %u %s %d\n", s.id, STAGES[stage], f.err));
    return;
  }
  slots[s.slot] = (struct slot){.id = s.id, .pid = pid, .fds = {out[0], errp[0], info[0]}, .used = 1};
  emit(line, (size_t)snprintf(line, sizeof line, "S %u %d\n", s.id, pid));
}

static void reap(void) {
  int status;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    for (size_t i = 0; i < nslots; i++) {
      struct slot *s = &slots[i];
      if (!s->used || s->pid != pid) continue;
      char line[96];
      emit(line, (size_t)snprintf(line, sizeof line, "X %u %d %d\n", s->id, pid, status));
      s->pid = 0;
      slot_release_if_done(s);
      break;
    }
  }
}

/* A step still runs, or its pipes still have output for the host. */
static int busy(void) {
  for (size_t i = 0; i < nslots; i++)
    if (slots[i].used) return 1;
  return 0;
}

static void handle(const unsigned char *p, uint32_t len) {
  struct cur c = {p, p + len};
  uint32_t type = u32(&c);
  if (type == T_START) {
    start(&c);
  } else if (type == T_CLOSE) {
    if (c.p == c.end) die("malformed frame: no ids");
    while (c.p != c.end) {
      uint32_t id = u32(&c), stream = u32(&c);
      if (stream > 2) die("malformed frame: stream");
      for (size_t i = 0; i < nslots; i++)
        if (slots[i].used && slots[i].id == id) {
          slot_close_fd(&slots[i], (int)stream);
          break;
        }
    }
  } else {
    die("malformed frame: unknown type");
  }
}

int main(int argc, char **argv) {
  /* Only for the step host that started us: its pid is our first argument, our stdin and stdout are its pipes. */
  if (argc < 2) die("usage: ctl-spawner <host pid> <protocol> (started by the step host only)");
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) die("PR_SET_PDEATHSIG failed");
  if (getppid() != (pid_t)strtol(argv[1], NULL, 10)) die("not started by the step host, or it is gone");
  /* A host of an older version (still running after an upgrade) that starts this binary speaks another protocol:
   * refused, so it falls back to Node's spawn after a few tries, rather than misreading the events. */
  if (argc != 3 || strcmp(argv[2], PROTOCOL) != 0) die("started by a step host of another version (protocol " PROTOCOL " expected)");
  struct stat st;
  /* Node's stdio pipes are socket pairs. */
  for (int fd = 0; fd < 2; fd++)
    if (fstat(fd, &st) < 0 || !(S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))) die("stdin and stdout must be the host's pipes");
  signal(SIGPIPE, SIG_IGN);
  syscall(SYS_close_range, 3u, ~0u, 0); /* nothing inherited beyond stdio: our fd numbers stay small and ours */
  if ((devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) die("cannot open /dev/null");
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, NULL);
  int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) die("signalfd failed");
  if ((epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) die("epoll_create1 failed");
  struct epoll_event in = {.events = EPOLLIN, .data.u64 = TAG_STDIN}, sig = {.events = EPOLLIN, .data.u64 = TAG_SIGNAL};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &in) < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, sfd, &sig) < 0) die("epoll_ctl failed");

  int eof = 0;
  size_t cap = 1 << 16, have = 0;
  unsigned char *buf = wiped(cap);
  for (;;) {
    flush();
    scrub_stack();
    /* The host closed our stdin, and every step we started has been told of, its output to the end. */
    if (eof && !busy()) exit(0);
    struct epoll_event evs[64];
    int nev = epoll_wait(epfd, evs, 64, -1);
    if (nev < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait failed");
    }
    int input = 0;
    for (int e = 0; e < nev; e++) {
      uint64_t tag = evs[e].data.u64;
      if (tag == TAG_SIGNAL) {
        struct signalfd_siginfo si;
        while (read(sfd, &si, sizeof si) > 0) {
        }
        reap();
      } else if (tag == TAG_STDIN) {
        input = 1;
      } else {
        drain((size_t)(tag >> 2), (int)(tag & 3));
        if (outlen >= FLUSH_AT) flush();
      }
    }
    if (!input) continue;
    if (have == cap) {
      if (cap >= 4 + (size_t)MAX_FRAME) die("malformed frame: too long");
      buf = rewiped(buf, cap, cap * 2);
      cap *= 2;
    }
    ssize_t n = read(0, buf + have, cap - have);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) {
      /* The host has no more requests: the steps still running are reaped and told, then we go. */
      eof = 1;
      epoll_ctl(epfd, EPOLL_CTL_DEL, 0, NULL);
      continue;
    }
    have += (size_t)n;
    size_t at = 0;
    while (have - at >= 4) {
      const unsigned char *p = buf + at;
      uint32_t len = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
      if (len < 4 || len > MAX_FRAME) die("malformed frame: bad length");
      if (have - at - 4 < len) break;
      handle(p + 4, len);
      at += 4 + (size_t)len;
    }
    memmove(buf, buf + at, have - at);
    have -= at;
    if (cap > (size_t)1 << 16 && have <= (size_t)1 << 16) {
      /* A large request is done: its memory goes back, not held for the host's life. */
      buf = rewiped(buf, cap, (size_t)1 << 16);
      cap = (size_t)1 << 16;
    }
  }
}
