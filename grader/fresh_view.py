"""Give one forked process a private view of the files inside the zygote's sandbox (``grader.zygote``).

A kernel forked from the zygote starts in the zygote's bubblewrap sandbox. Before it runs any
student code it enters a user and mount namespace of its own (nested in the sandbox's), covers
the folders a kernel may write (/tmp with its HOME, /dev/shm, its grading folder) with fresh,
size-capped tmpfs mounts, puts back the few mounts it needs under them (its socket folder), and
drops every capability. Mounts inherited from the sandbox are locked in the new namespace, so
nothing the kernel does later can uncover what lies under them. Linux only (ctypes, x86_64 and
aarch64 syscall numbers for ``open_tree`` and ``move_mount``: the same on both).
"""
import ctypes
import os

CLONE_NEWNS, CLONE_NEWUSER = 0x00020000, 0x10000000
MS_REC, MS_PRIVATE, MS_NOSUID, MS_NODEV = 0x4000, 1 << 18, 2, 4
AT_FDCWD, AT_RECURSIVE, AT_EMPTY_PATH = -100, 0x8000, 0x1000
OPEN_TREE_CLONE, OPEN_TREE_CLOEXEC = 1, 0o2000000
MOVE_MOUNT_F_EMPTY_PATH = 4
SYS_OPEN_TREE, SYS_MOVE_MOUNT, SYS_CAPSET = 428, 429, (126 if os.uname().machine == "x86_64" else 91)
PR_CAPBSET_DROP, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL = 24, 47, 4
_LINUX_CAPABILITY_VERSION_3 = 0x20080522

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def _check(result, what):
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return result


def enter_namespaces():
    """A user namespace mapping this uid and gid to themselves, and a mount namespace it owns."""
    uid, gid = os.getuid(), os.getgid()
    _check(_libc.unshare(CLONE_NEWUSER | CLONE_NEWNS), "unshare(user, mount)")
    with open("/proc/self/setgroups", "w") as f:
        f.write("deny")
    with open("/proc/self/uid_map", "w") as f:
        f.write(f"{uid} {uid} 1")
    with open("/proc/self/gid_map", "w") as f:
        f.write(f"{gid} {gid} 1")
    _check(_libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "make mounts private")


def _clone(path):
    """A detached copy of the mounts at ``path`` (to put back after covering its parent)."""
    return _check(_libc.syscall(SYS_OPEN_TREE, AT_FDCWD, os.fsencode(path),
                                OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE), f"open_tree {path}")


def _attach(fd, path):
    _check(_libc.syscall(SYS_MOVE_MOUNT, fd, b"", AT_FDCWD, os.fsencode(path), MOVE_MOUNT_F_EMPTY_PATH),
           f"move_mount onto {path}")


def _tmpfs(path, size_mb):
    _check(_libc.mount(b"tmpfs", os.fsencode(path), b"tmpfs", MS_NOSUID | MS_NODEV,
                       f"size={size_mb}m,mode=0755".encode()), f"tmpfs on {path}")


def under(path, folder):
    return os.path.commonpath([path, folder]) == folder


def cover(folders, keep, size_mb=512):
    """Fresh empty tmpfs mounts on ``folders`` (empty folders for those inside others); the mounts at ``keep`` under them are put back."""
    tops = [f for f in sorted(set(folders)) if not any(f != g and under(f, g) for g in folders)]
    kept = [(path, _clone(path)) for path in sorted(set(keep)) if any(under(path, f) for f in tops)]
    for folder in tops:
        _tmpfs(folder, size_mb)
    for folder in folders:  # the folders inside others: empty ones
        os.makedirs(folder, exist_ok=True)
    for path, fd in kept:
        if os.path.isdir(f"/proc/self/fd/{fd}"):
            os.makedirs(path, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            open(path, "a").close()
        _attach(fd, path)
        os.close(fd)


def drop_capabilities():
    """No capabilities left, in any set: the kernel cannot change its mounts or namespaces' maps."""
    with open("/proc/sys/kernel/cap_last_cap") as f:
        last = int(f.read())
    for cap in range(last + 1):
        _check(_libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0), f"drop capability {cap} from the bounding set")
    _check(_libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "clear ambient capabilities")
    header = (ctypes.c_uint32 * 2)(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()  # effective, permitted, inheritable, twice (64 capabilities): all zero
    _check(_libc.syscall(SYS_CAPSET, header, data), "capset")
