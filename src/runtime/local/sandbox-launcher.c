// ctl-sandbox: runs one step in a sandbox described with bubblewrap's own options, the subset that ctl's layout
// (bwrap.ts) and its probe (sandbox.ts) use, with bubblewrap's semantics: same namespaces, same mounts in the same
// order, same uid mapping (two user namespace levels), same process shape (monitor -> pid 1 -> the command), same exit
// status and --info-fd report. Anything else is refused (exit 1): an option this file does not know might have
// meant less access, and must never be silently ignored.
//
// Why not bwrap itself: a bwrap sandbox costs ~3.9 ms of CPU here, the namespaces and mounts it makes ~1.5 ms. The
// rest is bwrap's dynamic loading and, above all, one parse of /proc/self/mountinfo per bind to make its sub-mounts
// read-only; mount_setattr(2) with AT_RECURSIVE (Linux 5.12) does that in one system call. bwrap stays the
// reference: test/runtime/sandbox-launcher.test.ts runs both with the same arguments and compares what a step sees.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_openat2
#define SYS_openat2 437
#endif
/* struct open_how, spelled out for the same reason as struct mount_attr below. */
struct open_how_arg {
  uint64_t flags, mode, resolve;
};
#define RESOLVE_NO_SYMLINKS_ 0x04
#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef OPEN_TREE_CLOEXEC
#define OPEN_TREE_CLOEXEC O_CLOEXEC
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif
#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif
/* struct mount_attr and its flags, spelled out: <linux/mount.h> and glibc's <sys/mount.h> clash on some versions. */
struct mount_attr_arg {
  uint64_t attr_set, attr_clr, propagation, userns_fd;
};
enum { ATTR_RDONLY = 0x1, ATTR_NOSUID = 0x2, ATTR_NODEV = 0x4 };

#define MAX_ARGS 9000 /* as bwrap */

enum op_type { OP_BIND, OP_RO_BIND, OP_REMOUNT_RO, OP_PROC, OP_DEV, OP_TMPFS, OP_DIR, OP_RO_BIND_DATA, OP_SYMLINK };
struct op {
  enum op_type type;
  const char *source; /* host path (binds: resolved before the root changes), symlink target */
  const char *dest;
  int fd;    /* --ro-bind-data; binds: the source, opened before the root changes (-1: a missing --ro-bind-try source) */
  mode_t source_mode;
  int perms; /* -1: none given */
  int try_;  /* --ro-bind-try: a missing source is skipped */
};

static struct op *ops;
static int nops;
static int opt_unshare_user, opt_disable_userns, opt_unshare_pid, opt_unshare_ipc, opt_unshare_uts, opt_unshare_cgroup_try,
    opt_unshare_net, opt_die_with_parent, opt_new_session, opt_needs_devpts;
static long opt_uid = -1, opt_gid = -1;
static int opt_info_fd = -1, opt_seccomp_fd = -1;
static const char *opt_hostname, *opt_chdir;
/* The process whose death ends the sandbox: set by ctl-spawner before it runs the launcher in its child (it knows
 * its own pid; a getppid() after its death would name whoever adopted us); 0: our parent, as exec'd. */
pid_t ctl_sandbox_parent;
static uid_t real_uid;
static gid_t real_gid;

/* One line on stderr in one write: pid 1 and the command may fail at once, and the step host takes a failure for
 * the sandbox's own only when every line of the step's output is one (step-exit.mjs). */
__attribute__((noreturn)) static void vdie(int err, const char *fmt, va_list ap) {
  char line[1024];
  int n = snprintf(line, sizeof line, "ctl-sandbox: ");
  n += vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
  if (n > (int)sizeof line - 2) n = (int)sizeof line - 2;
  if (err) n += snprintf(line + n, sizeof line - (size_t)n, ": %s", strerror(err));
  if (n > (int)sizeof line - 2) n = (int)sizeof line - 2;
  line[n++] = '\n';
  if (write(2, line, (size_t)n) < 0) { /* nobody to tell */
  }
  _exit(1);
}

__attribute__((noreturn, format(printf, 1, 2))) static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vdie(0, fmt, ap);
}

__attribute__((noreturn, format(printf, 1, 2))) static void die_errno(const char *fmt, ...) {
  int e = errno;
  va_list ap;
  va_start(ap, fmt);
  vdie(e, fmt, ap);
}

static char *join(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  char *s = malloc(la + lb + 1);
  if (!s) die("out of memory");
  memcpy(s, a, la);
  memcpy(s + la, b, lb + 1);
  return s;
}

static int parse_fd(const char *s) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (!*s || *end || errno || v < 0 || v > INT_MAX) die("Invalid fd: %s", s);
  return (int)v;
}

static long parse_id(const char *s, const char *what) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (!*s || *end || errno || v < 0 || v >= 4294967295L) die("Invalid %s: %s", what, s);
  return v;
}

static struct op *add_op(enum op_type type, int *pending_perms, int takes_perms) {
  if (*pending_perms >= 0 && !takes_perms) die("--perms must be followed by an option that creates a file");
  struct op *op = &ops[nops++];
  *op = (struct op){.type = type, .fd = -1, .perms = takes_perms ? *pending_perms : -1};
  *pending_perms = -1;
  return op;
}

static void parse_args(int argc, char **argv, int *cmd_at) {
  if (argc > MAX_ARGS) die("Exceeded maximum number of arguments %u", MAX_ARGS);
  ops = calloc((size_t)argc, sizeof *ops);
  if (!ops) die("out of memory");
  int perms = -1;
  int i = 1;
  for (; i < argc; i++) {
    const char *a = argv[i];
    int left = argc - i - 1;
#define NEED(n)                                                          \
  do {                                                                   \
    if (left < (n)) die("%s takes %d argument%s", a, (n), (n) > 1 ? "s" : ""); \
  } while (0)
    if (strcmp(a, "--") == 0) {
      i++;
      break;
    }
    if (a[0] != '-') break; /* the command, as bwrap takes it */
    if (a[1] != '-') die("Unknown option %s", a);
    if (strcmp(a, "--perms") != 0 && perms >= 0 && strcmp(a, "--tmpfs") != 0 && strcmp(a, "--dir") != 0 && strcmp(a, "--ro-bind-data") != 0)
      die("--perms must be followed by an option that creates a file");
    if (strcmp(a, "--unshare-user") == 0) opt_unshare_user = 1;
    else if (strcmp(a, "--disable-userns") == 0) opt_disable_userns = 1;
    else if (strcmp(a, "--unshare-pid") == 0) opt_unshare_pid = 1;
    else if (strcmp(a, "--unshare-ipc") == 0) opt_unshare_ipc = 1;
    else if (strcmp(a, "--unshare-uts") == 0) opt_unshare_uts = 1;
    else if (strcmp(a, "--unshare-cgroup-try") == 0) opt_unshare_cgroup_try = 1;
    else if (strcmp(a, "--unshare-net") == 0) opt_unshare_net = 1;
    else if (strcmp(a, "--die-with-parent") == 0) opt_die_with_parent = 1;
    else if (strcmp(a, "--new-session") == 0) opt_new_session = 1;
    else if (strcmp(a, "--cap-drop") == 0) {
      NEED(1);
      /* Only ALL: every capability is dropped whatever is given, but a named one would be a request we do not honour. */
      if (strcasecmp(argv[++i], "ALL") != 0) die("--cap-drop %s: only ALL is supported", argv[i]);
    } else if (strcmp(a, "--hostname") == 0) {
      NEED(1);
      opt_hostname = argv[++i];
    } else if (strcmp(a, "--chdir") == 0) {
      NEED(1);
      opt_chdir = argv[++i];
    } else if (strcmp(a, "--info-fd") == 0) {
      NEED(1);
      opt_info_fd = parse_fd(argv[++i]);
    } else if (strcmp(a, "--add-seccomp-fd") == 0) {
      NEED(1);
      if (opt_seccomp_fd >= 0) die("--add-seccomp-fd: only one filter is supported");
      opt_seccomp_fd = parse_fd(argv[++i]);
    } else if (strcmp(a, "--uid") == 0) {
      NEED(1);
      opt_uid = parse_id(argv[++i], "uid");
    } else if (strcmp(a, "--gid") == 0) {
      NEED(1);
      opt_gid = parse_id(argv[++i], "gid");
    } else if (strcmp(a, "--perms") == 0) {
      NEED(1);
      char *end;
      long v = strtol(argv[++i], &end, 8);
      if (!*argv[i] || *end || v < 0 || v > 07777) die("--perms takes an octal argument");
      perms = (int)v;
    } else if (strcmp(a, "--symlink") == 0) {
      NEED(2);
      struct op *op = add_op(OP_SYMLINK, &perms, 0);
      op->source = argv[++i];
      op->dest = argv[++i];
    } else if (strcmp(a, "--ro-bind") == 0 || strcmp(a, "--ro-bind-try") == 0 || strcmp(a, "--bind") == 0) {
      NEED(2);
      struct op *op = add_op(strcmp(a, "--bind") == 0 ? OP_BIND : OP_RO_BIND, &perms, 0);
      op->try_ = strcmp(a, "--ro-bind-try") == 0;
      op->source = argv[++i];
      op->dest = argv[++i];
    } else if (strcmp(a, "--remount-ro") == 0) {
      NEED(1);
      add_op(OP_REMOUNT_RO, &perms, 0)->dest = argv[++i];
    } else if (strcmp(a, "--dev") == 0) {
      NEED(1);
      add_op(OP_DEV, &perms, 0)->dest = argv[++i];
      opt_needs_devpts = 1;
    } else if (strcmp(a, "--proc") == 0) {
      NEED(1);
      add_op(OP_PROC, &perms, 0)->dest = argv[++i];
    } else if (strcmp(a, "--tmpfs") == 0) {
      NEED(1);
      struct op *op = add_op(OP_TMPFS, &perms, 1);
      if (op->perms < 0) op->perms = 0755;
      op->dest = argv[++i];
    } else if (strcmp(a, "--dir") == 0) {
      NEED(1);
      struct op *op = add_op(OP_DIR, &perms, 1);
      if (op->perms < 0) op->perms = 0755;
      op->dest = argv[++i];
    } else if (strcmp(a, "--ro-bind-data") == 0) {
      NEED(2);
      struct op *op = add_op(OP_RO_BIND_DATA, &perms, 1);
      if (op->perms < 0) op->perms = 0600;
      op->fd = parse_fd(argv[++i]);
      op->dest = argv[++i];
    } else
      die("Unknown option %s", a);
#undef NEED
  }
  if (perms >= 0) die("--perms must be followed by an option that creates a file");
  if (i >= argc) die("No command specified");
  if (!opt_unshare_user) die("--unshare-user is required"); /* the only mode ctl uses: no setuid, no host root */
  if ((opt_uid >= 0 || opt_gid >= 0) && !opt_unshare_user) die("Specifying --uid or --gid requires --unshare-user");
  if (opt_hostname && !opt_unshare_uts) die("Specifying --hostname requires --unshare-uts");
  *cmd_at = i;
}

static void write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) die_errno("Can't open %s", path);
  size_t len = strlen(text);
  if (write(fd, text, len) != (ssize_t)len) die_errno("Can't write %s", path);
  close(fd);
}

/* The maps of the calling process's own (new) user namespace: one id each, onto the id it has in the parent. */
static void write_maps(long inner_uid, long outer_uid, long inner_gid, long outer_gid, int deny_groups) {
  char buf[64];
  if (deny_groups) write_file("/proc/self/setgroups", "deny");
  snprintf(buf, sizeof buf, "%ld %ld 1\n", inner_uid, outer_uid);
  write_file("/proc/self/uid_map", buf);
  snprintf(buf, sizeof buf, "%ld %ld 1\n", inner_gid, outer_gid);
  write_file("/proc/self/gid_map", buf);
}

static int mount_setattr_(const char *path, unsigned flags, uint64_t set) {
  struct mount_attr_arg attr = {.attr_set = set};
  return (int)syscall(SYS_mount_setattr, AT_FDCWD, path, flags, &attr, sizeof attr);
}

/* bwrap's bind: always recursive (a non-recursive bind would uncover what the host hides below SRC), nosuid on every
 * mount of the tree, nodev unless devices are wanted, read-only when asked. Done on a detached copy of the tree
 * (open_tree), which is attached at DEST only once every mount of it has its flags: no moment where a mount is there
 * writable, and DEST is looked up once. */
static void bind_tree(int dirfd, const char *path, unsigned at_flags, const char *src, const char *dest, int readonly, int devices) {
  int tree = (int)syscall(SYS_open_tree, dirfd, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE | at_flags);
  if (tree < 0) die_errno("Can't bind mount %s on %s", src, dest);
  struct mount_attr_arg attr = {.attr_set = ATTR_NOSUID | (devices ? 0 : ATTR_NODEV) | (readonly ? ATTR_RDONLY : 0)};
  if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) != 0) die_errno("Can't remount %s", dest);
  if (syscall(SYS_move_mount, tree, "", AT_FDCWD, dest, MOVE_MOUNT_F_EMPTY_PATH) != 0) die_errno("Can't bind mount %s on %s", src, dest);
  close(tree);
}

static void bind_mount(const char *src, const char *dest, int readonly, int devices) {
  bind_tree(AT_FDCWD, src, 0, src, dest, readonly, devices);
}

static int ensure_dir(const char *path, mode_t mode) {
  struct stat st;
  if (stat(path, &st) == 0) {
    if (S_ISDIR(st.st_mode)) return 0;
    errno = ENOTDIR;
    return -1;
  }
  if (mkdir(path, mode) != 0 && errno != EEXIST) return -1;
  return 0;
}

static int ensure_file(const char *path, mode_t mode) {
  struct stat st;
  if (stat(path, &st) == 0 && !S_ISDIR(st.st_mode) && !S_ISLNK(st.st_mode)) return 0;
  int fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, mode);
  if (fd < 0) return -1;
  close(fd);
  return 0;
}

/* Every folder on the way to `path` (not `path` itself), below the new root. */
static int mkdir_parents(const char *path, mode_t mode) {
  char *p = strdup(path);
  if (!p) die("out of memory");
  for (char *s = p + 1; *s; s++) {
    if (*s != '/') continue;
    *s = 0;
    if (mkdir(p, mode) != 0 && errno != EEXIST) {
      free(p);
      return -1;
    }
    struct stat st;
    if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode)) {
      free(p);
      errno = ENOTDIR;
      return -1;
    }
    *s = '/';
  }
  free(p);
  return 0;
}

static void copy_fd(int from, int to, const char *what) {
  char buf[65536];
  for (;;) {
    ssize_t n = read(from, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) die_errno("Can't read data for %s", what);
    if (n == 0) return;
    for (ssize_t done = 0; done < n;) {
      ssize_t w = write(to, buf + done, (size_t)(n - done));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) die_errno("Can't write data to file %s", what);
      done += w;
    }
  }
}

static void mount_tmpfs(const char *dest, int perms) {
  char opts[32];
  snprintf(opts, sizeof opts, "mode=%#o", perms);
  if (mount("tmpfs", dest, "tmpfs", MS_NOSUID | MS_NODEV, opts) != 0) die_errno("Can't mount tmpfs on %s", dest);
}

static void setup_dev(const char *dest, const char *shown) {
  if (ensure_dir(dest, 0755) != 0) die_errno("Can't mkdir %s", shown);
  mount_tmpfs(dest, 0755);
  static const char *const nodes[] = {"null", "zero", "full", "random", "urandom", "tty"};
  for (size_t i = 0; i < sizeof nodes / sizeof *nodes; i++) {
    char *node = join(join(dest, "/"), nodes[i]);
    char *src = join("/oldroot/dev/", nodes[i]);
    if (ensure_file(node, 0444) != 0) die_errno("Can't create file %s/%s", shown, nodes[i]);
    bind_mount(src, node, 0, 1);
  }
  static const char *const stdio[] = {"stdin", "stdout", "stderr"};
  for (int i = 0; i < 3; i++) {
    char target[32];
    snprintf(target, sizeof target, "/proc/self/fd/%d", i);
    if (symlink(target, join(join(dest, "/"), stdio[i])) != 0) die_errno("Can't create symlink %s/%s", shown, stdio[i]);
  }
  if (symlink("/proc/self/fd", join(dest, "/fd")) != 0) die_errno("Can't create symlink %s/fd", shown);
  if (symlink("/proc/kcore", join(dest, "/core")) != 0) die_errno("Can't create symlink %s/core", shown);
  if (mkdir(join(dest, "/shm"), 0755) != 0) die_errno("Can't create %s/shm", shown);
  char *pts = join(dest, "/pts");
  if (mkdir(pts, 0755) != 0) die_errno("Can't create %s/devpts", shown);
  if (mount("devpts", pts, "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=620") != 0) die_errno("Can't mount devpts on %s", pts);
  if (symlink("pts/ptmx", join(dest, "/ptmx")) != 0) die_errno("Can't make symlink at %s/ptmx", shown);
  /* bwrap shows a terminal on stdout as /dev/console; ctl's steps write to pipes, so there is none to show. */
  if (isatty(1)) die("stdout is a terminal: not supported");
}

/* user.max_user_namespaces of the sandbox's first user namespace, opened by setup_proc when there is a --proc. */
static int userns_limit_fd = -1;

static void setup_proc(const char *dest, const char *shown) {
  if (ensure_dir(dest, 0755) != 0) die_errno("Can't mkdir %s", shown);
  if (!opt_unshare_pid) die("--proc without --unshare-pid is not supported");
  if (mount("proc", dest, "proc", MS_NOSUID | MS_NOEXEC | MS_NODEV, NULL) != 0) die_errno("Can't mount proc on %s", dest);
  /* The limit --disable-userns sets is opened here, through this new /proc, before its sys is covered read-only.
   * Through the host's /proc, the lookup of sys/user walked a dentry per user namespace the machine had made
   * lately (proc_sys_compare: ~12 % of a sandbox's CPU at 20,000 sandboxes a minute). Which namespace's limit it
   * is does not depend on the /proc used but on the opener's user namespace: this one, as later at the write. */
  if (opt_disable_userns && userns_limit_fd < 0) {
    userns_limit_fd = openat(AT_FDCWD, join(dest, "/sys/user/max_user_namespaces"), O_WRONLY | O_CLOEXEC);
    if (userns_limit_fd < 0) die_errno("cannot open /proc/sys/user/max_user_namespaces");
  }
  /* As bwrap: old /proc entries that could hurt the machine if writable are covered read-only where they are. */
  static const char *const cover[] = {"sys", "sysrq-trigger", "irq", "bus"};
  for (size_t i = 0; i < sizeof cover / sizeof *cover; i++) {
    char *sub = join(join(dest, "/"), cover[i]);
    if (access(sub, W_OK) < 0) {
      if (errno == EACCES || errno == ENOENT || errno == EROFS) continue;
      die_errno("Can't access %s", sub);
    }
    bind_mount(sub, sub, 1, 0);
  }
}

static void setup_newroot(void) {
  for (int k = 0; k < nops; k++) {
    struct op *op = &ops[k];
    if ((op->type == OP_BIND || op->type == OP_RO_BIND) && op->fd < 0) continue; /* a missing --ro-bind-try source */
    char *dest = join("/newroot", op->dest);
    if (op->type != OP_REMOUNT_RO) {
      /* As bwrap: parents of something closed to group or others are closed to them too; an option without
       * permissions of its own (binds, /dev, /proc, links) counts as closed to both, so its parents are 0700. */
      int perms = op->perms >= 0 ? op->perms : 0;
      mode_t parent = 0755;
      if ((perms & 0070) == 0) parent &= ~0050U;
      if ((perms & 0007) == 0) parent &= ~0005U;
      if (mkdir_parents(dest, parent) != 0) die_errno("Can't mkdir parents for %s", op->dest);
    }
    switch (op->type) {
    case OP_BIND:
    case OP_RO_BIND:
      if (S_ISDIR(op->source_mode) ? ensure_dir(dest, 0755) != 0 : ensure_file(dest, 0444) != 0) die_errno("Can't create %s", op->dest);
      bind_tree(op->fd, "", AT_EMPTY_PATH, op->source, dest, op->type == OP_RO_BIND, 0);
      close(op->fd);
      op->fd = -1;
      break;
    case OP_REMOUNT_RO:
      /* Not recursive, as bwrap's --remount-ro: that one mount only. */
      if (mount_setattr_(dest, 0, ATTR_RDONLY | ATTR_NOSUID | ATTR_NODEV) != 0) die_errno("Can't remount readonly on %s", op->dest);
      break;
    case OP_PROC:
      setup_proc(dest, op->dest);
      break;
    case OP_DEV:
      setup_dev(dest, op->dest);
      break;
    case OP_TMPFS:
      if (ensure_dir(dest, 0755) != 0) die_errno("Can't mkdir %s", op->dest);
      mount_tmpfs(dest, op->perms);
      break;
    case OP_DIR:
      if (ensure_dir(dest, (mode_t)op->perms) != 0) die_errno("Can't mkdir %s", op->dest);
      break;
    case OP_RO_BIND_DATA: {
      /* The data goes to a file on the setup tmpfs, which is bound read-only at DEST and unlinked: the step can
       * reach it only there. */
      char tmp[] = "/bindfileXXXXXX";
      int fd = mkstemp(tmp);
      if (fd < 0) die_errno("Can't create tmpfile for %s", op->dest);
      if (fchmod(fd, (mode_t)op->perms) != 0) die_errno("Can't set mode %#o on file to be used for %s", op->perms, op->dest);
      copy_fd(op->fd, fd, op->dest);
      close(fd);
      close(op->fd);
      op->fd = -1;
      if (ensure_file(dest, 0444) != 0) die_errno("Can't create file at %s", op->dest);
      bind_mount(tmp, dest, 1, 0);
      unlink(tmp);
      break;
    }
    case OP_SYMLINK:
      if (symlink(op->source, dest) != 0) {
        if (errno != EEXIST) die_errno("Can't make symlink at %s", op->dest);
        char existing[PATH_MAX];
        ssize_t n = readlink(dest, existing, sizeof existing - 1);
        if (n < 0) die("Can't make symlink at %s: destination exists and is not a symlink", op->dest);
        existing[n] = 0;
        if (strcmp(existing, op->source) != 0) die("Can't make symlink at %s: existing destination is %s", op->dest, existing);
      }
      break;
    }
    free(dest);
  }
}

/* Bind sources are opened while the host's root is still the root, as the step's user, and bound from that fd: what
 * is mounted is what was opened. Unlike bwrap, which resolves links in a source (realpath), no link is followed on
 * the way: ctl's layout gives real paths (bwrap.ts), and a link there was put in a volume by a step, after the
 * runtime's checks, to lead the mount elsewhere. */
static void open_sources(void) {
  for (int k = 0; k < nops; k++) {
    struct op *op = &ops[k];
    if (op->type != OP_BIND && op->type != OP_RO_BIND) continue;
    struct open_how_arg how = {.flags = O_PATH | O_CLOEXEC, .resolve = RESOLVE_NO_SYMLINKS_};
    op->fd = (int)syscall(SYS_openat2, AT_FDCWD, op->source, &how, sizeof how);
    if (op->fd < 0) {
      if (op->try_ && errno == ENOENT) continue;
      if (errno == ELOOP) die("Can't find source path %s: a symbolic link on the way (sources are real paths)", op->source);
      die_errno("Can't find source path %s", op->source);
    }
    struct stat st;
    if (fstat(op->fd, &st) != 0) die_errno("Can't get type of source %s", op->source);
    op->source_mode = st.st_mode;
  }
}

static void loopback_up(void) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) die_errno("Can't create a socket for loopback");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.ifr_name, "lo");
  /* Bringing lo up gives it 127.0.0.1/8 and ::1, as bwrap's loopback set-up does. */
  if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) die_errno("loopback: Failed RTM_GETLINK");
  ifr.ifr_flags |= IFF_UP;
  if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) die_errno("loopback: Failed RTM_NEWLINK");
  close(s);
}

static void drop_all_caps(int bounding) {
  if (bounding) {
    for (int cap = 0; cap <= 63; cap++)
      if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL) die_errno("Dropping capability %d from bounds", cap);
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) die_errno("Clearing ambient capabilities");
  }
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2];
  memset(data, 0, sizeof data);
  if (syscall(SYS_capset, &hdr, data) != 0) die_errno("capset failed");
}

/* The filter as bwrap takes it: an array of struct sock_filter, read to its end (a memfd or a pipe alike). */
static struct sock_fprog load_seccomp(int fd) {
  const size_t max = 4096 * sizeof(struct sock_filter); /* BPF_MAXINSNS */
  struct sock_filter *f = malloc(max + 1);
  if (!f) die("out of memory");
  size_t got = 0;
  for (;;) {
    ssize_t n = read(fd, (char *)f + got, max + 1 - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) die_errno("Can't read seccomp data");
    if (n == 0) break;
    got += (size_t)n;
    if (got > max) die("Invalid seccomp data: longer than %zu instructions", max / sizeof(struct sock_filter));
  }
  close(fd);
  if (got == 0 || got % sizeof(struct sock_filter) != 0) die("Invalid seccomp data, must be multiple of 8");
  return (struct sock_fprog){.len = (unsigned short)(got / sizeof(struct sock_filter)), .filter = f};
}

/* Closes every fd above stdio but `keep` (-1: none). */
static void close_all_but(int keep) {
  unsigned from = 3;
  if (keep >= 3) {
    if (keep > 3 && syscall(SYS_close_range, from, (unsigned)keep - 1, 0) != 0) die_errno("close_range");
    from = (unsigned)keep + 1;
  }
  if (syscall(SYS_close_range, from, ~0u, 0) != 0) die_errno("close_range");
}

static int propagate_exit_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 255;
}

/* PR_SET_PDEATHSIG, set again after every change of credentials (which clears it). The parent may have died before
 * the call, and then nobody would ever send the signal: `alive` is a pidfd of the parent (readable once it has
 * ended), as getppid() tells nothing to pid 1 of a new pid namespace. */
static void die_with_parent(int alive) {
  if (!opt_die_with_parent) return;
  if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0) die_errno("prctl");
  struct pollfd p = {.fd = alive, .events = POLLIN};
  if (alive >= 0 && poll(&p, 1, 0) != 0) _exit(1);
}

/* The monitor, outside the sandbox: reports pid 1, then exits with the command's status (told by pid 1 through
 * event_fd), or with pid 1's own when it ended first (a failed set-up). Its exit ends pid 1 (--die-with-parent),
 * and so the whole pid namespace. */
__attribute__((noreturn)) static void monitor(pid_t child, int event_fd) {
  /* Run in ctl-spawner's child, the monitor holds a copy of the spawner's memory: never dumpable, whatever
   * fs.suid_dumpable says about a process whose ids changed. */
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) die_errno("prctl(PR_SET_DUMPABLE)");
  if (opt_info_fd >= 0) {
    char info[64];
    int n = snprintf(info, sizeof info, "{\n    \"child-pid\": %d\n}\n", (int)child);
    if (write(opt_info_fd, info, (size_t)n) != n) { /* the reader gave up: it will learn the end from the exit */
    }
    close(opt_info_fd);
  }
  /* Nothing else is the monitor's to hold while the step runs (the step's data fds, the seccomp filter, /proc), as
   * bwrap's monitor: only the event fd, and the pidfd made below. */
  close_all_but(event_fd);
  int pidfd = (int)syscall(SYS_pidfd_open, child, 0);
  if (pidfd < 0) die_errno("pidfd_open");
  struct pollfd fds[2] = {{.fd = event_fd, .events = POLLIN}, {.fd = pidfd, .events = POLLIN}};
  for (;;) {
    if (poll(fds, 2, -1) < 0 && errno != EINTR) die_errno("poll");
    uint64_t val;
    /* The event first: when pid 2 ends, pid 1 often ends right after it, and its status is not the command's. */
    if (read(event_fd, &val, 8) == 8) _exit((int)val - 1);
    if (fds[1].revents) {
      int status;
      if (waitpid(child, &status, WNOHANG) == child) {
        if (read(event_fd, &val, 8) == 8) _exit((int)val - 1);
        _exit(propagate_exit_status(status));
      }
    }
  }
}

/* pid 1 of the sandbox: reaps everything, and tells the monitor the command's status when it ends. */
__attribute__((noreturn)) static void init_loop(pid_t command, int event_fd) {
  int exit_status = 1;
  for (;;) {
    int status;
    pid_t p = wait(&status);
    if (p == command) {
      exit_status = propagate_exit_status(status);
      uint64_t val = (uint64_t)exit_status + 1;
      if (write(event_fd, &val, 8) != 8) { /* the monitor is gone: the kernel ends us anyway */
      }
    }
    if (p < 0 && errno != EINTR) {
      if (errno != ECHILD) die_errno("init wait()");
      break;
    }
  }
  _exit(exit_status);
}

#ifdef CTL_SANDBOX_IN_SPAWNER
/* Built into ctl-spawner too: its forked child calls this instead of exec'ing the launcher (see spawner.c). */
int ctl_sandbox_main(int argc, char **argv) {
#else
int main(int argc, char **argv) {
#endif
  int cmd_at;
  parse_args(argc, argv, &cmd_at);
  real_uid = getuid();
  real_gid = getgid();
  /* Never gain privileges through exec, from here on (as bwrap, before anything else). */
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) die_errno("prctl(PR_SET_NO_NEW_PRIVS) failed");
  int proc_fd = open("/proc", O_PATH | O_CLOEXEC);
  if (proc_fd < 0) die_errno("Can't open /proc");

  int event_fd = -1;
  if (opt_unshare_pid) {
    event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (event_fd < 0) die_errno("eventfd()");
  }
  unsigned long flags = SIGCHLD | CLONE_NEWNS | CLONE_NEWUSER;
  if (opt_unshare_pid) flags |= CLONE_NEWPID;
  if (opt_unshare_net) flags |= CLONE_NEWNET;
  if (opt_unshare_ipc) flags |= CLONE_NEWIPC;
  if (opt_unshare_uts) flags |= CLONE_NEWUTS;
  struct stat st;
  if (opt_unshare_cgroup_try && stat("/proc/self/ns/cgroup", &st) == 0) flags |= CLONE_NEWCGROUP;
  /* The caller's death ends the monitor, the monitor's pid 1, pid 1's the command (and with it the namespace). */
  int parent_fd = opt_die_with_parent ? (int)syscall(SYS_pidfd_open, ctl_sandbox_parent ? ctl_sandbox_parent : getppid(), 0) : -1;
  int monitor_fd = opt_die_with_parent ? (int)syscall(SYS_pidfd_open, getpid(), 0) : -1;
  if (opt_die_with_parent && (parent_fd < 0 || monitor_fd < 0)) die_errno("pidfd_open");
  die_with_parent(parent_fd);
  pid_t pid = (pid_t)syscall(SYS_clone, flags, NULL, NULL, NULL, NULL);
  if (pid < 0) {
    if (errno == ENOSPC) die("Creating new namespace failed: nesting depth or /proc/sys/user/max_*_namespaces exceeded (ENOSPC)");
    die_errno("Creating new namespace failed");
  }
  if (pid > 0) monitor(pid, event_fd);

  /* pid 1 of the sandbox, in its own namespaces; the root of its user namespace, for now. */
  if (opt_info_fd >= 0) close(opt_info_fd);
  if (parent_fd >= 0) close(parent_fd);
  die_with_parent(monitor_fd);
  /* Our own /proc/self files (the maps, setgroups) must be ours to write: a process whose ids were changed before it
   * got here without an exec (ctl-spawner's child) is not dumpable, and they would belong to the host's root. */
  if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) != 0) die_errno("prctl(PR_SET_DUMPABLE)");
  if (opt_unshare_net) loopback_up();
  /* /dev needs devpts, which needs root mapped: the first level maps 0 to us, the second (below) the asked ids. */
  long ns_uid = opt_needs_devpts ? 0 : (opt_uid >= 0 ? opt_uid : real_uid);
  long ns_gid = opt_needs_devpts ? 0 : (opt_gid >= 0 ? opt_gid : real_gid);
  long sandbox_uid = opt_uid >= 0 ? opt_uid : real_uid, sandbox_gid = opt_gid >= 0 ? opt_gid : real_gid;
  write_maps(ns_uid, real_uid, ns_gid, real_gid, 1);
  mode_t old_umask = umask(0);
  open_sources();
  if (mount(NULL, "/", NULL, MS_SILENT | MS_SLAVE | MS_REC, NULL) != 0) die_errno("Failed to make / slave");
  if (mount("tmpfs", "/tmp", "tmpfs", MS_NODEV | MS_NOSUID, NULL) != 0) die_errno("Failed to mount tmpfs");
  char *old_cwd = get_current_dir_name();
  if (chdir("/tmp") != 0) die_errno("chdir base_path");
  if (mkdir("newroot", 0755) != 0) die_errno("Creating newroot failed");
  if (mount("newroot", "newroot", NULL, MS_SILENT | MS_MGC_VAL | MS_BIND | MS_REC, NULL) != 0) die_errno("setting up newroot bind");
  if (mkdir("oldroot", 0755) != 0) die_errno("Creating oldroot failed");
  if (syscall(SYS_pivot_root, "/tmp", "oldroot") != 0) die_errno("pivot_root");
  if (chdir("/") != 0) die_errno("chdir / (base path)");
  if (opt_hostname && sethostname(opt_hostname, strlen(opt_hostname)) != 0) die_errno("Can't set hostname to %s", opt_hostname);
  setup_newroot();
  if (mount("oldroot", "oldroot", NULL, MS_SILENT | MS_REC | MS_PRIVATE, NULL) != 0) die_errno("Failed to make old root rprivate");
  if (umount2("oldroot", MNT_DETACH) != 0) die_errno("unmount old root");
  int oldroot = open("/", O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  if (oldroot < 0) die_errno("can't open /");
  if (chdir("/newroot") != 0) die_errno("chdir /newroot");
  if (syscall(SYS_pivot_root, ".", ".") != 0) die_errno("pivot_root(/newroot)");
  if (fchdir(oldroot) != 0) die_errno("fchdir to oldroot");
  if (umount2(".", MNT_DETACH) != 0) die_errno("umount old root");
  if (chdir("/") != 0) die_errno("chdir /");
  close(oldroot);

  if (opt_needs_devpts || ns_uid != sandbox_uid || ns_gid != sandbox_gid || opt_disable_userns) {
    /* A second user namespace inside the first: for the ids asked, and so that the limit set below cannot be
     * undone from inside (it belongs to the first level, where the step has no capability). */
    if (opt_disable_userns) {
      int fd = userns_limit_fd >= 0 ? userns_limit_fd : openat(proc_fd, "sys/user/max_user_namespaces", O_WRONLY | O_CLOEXEC);
      if (fd < 0) die_errno("cannot open /proc/sys/user/max_user_namespaces");
      if (write(fd, "1", 1) != 1) die_errno("sysctl user.max_user_namespaces = 1");
      close(fd);
      userns_limit_fd = -1;
    }
    if (unshare(CLONE_NEWUSER) != 0) die_errno("unshare user ns");
    /* Inside the new one: its maps are written through this process's own /proc/self, reached by proc_fd. */
    char buf[64];
    snprintf(buf, sizeof buf, "%ld %ld 1\n", sandbox_uid, ns_uid);
    int fd = openat(proc_fd, "self/uid_map", O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, buf, strlen(buf)) != (ssize_t)strlen(buf)) die_errno("setting up uid map");
    close(fd);
    snprintf(buf, sizeof buf, "%ld %ld 1\n", sandbox_gid, ns_gid);
    fd = openat(proc_fd, "self/gid_map", O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, buf, strlen(buf)) != (ssize_t)strlen(buf)) die_errno("setting up gid map");
    close(fd);
  }
  /* The host's /proc is needed no more. Closed before anything the step's files decide (the --chdir below may lead
   * through a link in a writable volume, e.g. to /proc/self/fd/N): no way back to the host's processes. */
  close(proc_fd);
  /* Init lives on beside the command, with the same uid, and may hold a copy of another process's memory (in
   * ctl-spawner's child: the spawner's): not dumpable from here on, so the command cannot read or write it through
   * /proc/1 (its exec makes the command dumpable again). */
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) die_errno("prctl(PR_SET_DUMPABLE)");
  if (opt_disable_userns && unshare(CLONE_NEWUSER) == 0) die("creation of new user namespaces was not disabled as requested");
  drop_all_caps(1);
  struct sock_fprog seccomp = {0};
  if (opt_seccomp_fd >= 0) seccomp = load_seccomp(opt_seccomp_fd);
  umask(old_umask);
  const char *new_cwd = "/";
  if (opt_chdir) {
    if (chdir(opt_chdir) != 0) die_errno("Can't chdir to %s", opt_chdir);
    new_cwd = opt_chdir;
  } else if (old_cwd && chdir(old_cwd) == 0) {
    new_cwd = old_cwd;
  } else {
    const char *home = getenv("HOME");
    if (home && chdir(home) == 0) new_cwd = home;
  }
  if (setenv("PWD", new_cwd, 1) != 0) die_errno("setenv");
  if (opt_new_session && setsid() == (pid_t)-1) die_errno("setsid");

  if (opt_unshare_pid) {
    pid_t command = fork();
    if (command < 0) die_errno("Can't fork for pid 1");
    if (command > 0) {
      /* Everything but stdio and the event fd closed: any other fd would be the step's, held open by init. */
      die_with_parent(monitor_fd);
      close_all_but(event_fd);
      /* Init carries the filter too (bwrap's does): a process of the sandbox without it would be a way around it. */
      if (seccomp.filter && prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &seccomp) != 0) die_errno("prctl(PR_SET_SECCOMP)");
      init_loop(command, event_fd);
    }
  }
  /* The command: stdio only (the set-up's fds were closed as they were used, the rest are close-on-exec). */
  if (event_fd >= 0) close(event_fd);
  if (monitor_fd >= 0) close(monitor_fd);
  int init_fd = opt_unshare_pid && opt_die_with_parent ? (int)syscall(SYS_pidfd_open, getppid(), 0) : -1;
  die_with_parent(init_fd);
  if (init_fd >= 0) close(init_fd);
  /* The filter last, right before the exec, as bwrap: nothing of the set-up runs under it. */
  if (seccomp.filter && prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &seccomp) != 0) die_errno("prctl(PR_SET_SECCOMP)");
  execvp(argv[cmd_at], argv + cmd_at);
  die_errno("execvp %s", argv[cmd_at]);
}
