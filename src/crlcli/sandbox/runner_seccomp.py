"""A seccomp filter for untrusted code: deny what reaches past the sandbox's namespaces, allow the rest.

Standard library only (bound read-only into the judge's sandbox next to runner.py, run by any Python 3.8+).

What is denied, and why:
- add_key / request_key / keyctl (EPERM): the kernel keyring of a uid outlives every candidate that used it.
- unshare / clone with any namespace flag, setns (EPERM): no nested user namespace (which would hand the code
  every capability over a fresh set of namespaces) and no other namespace games.
- clone3 (ENOSYS): its flags sit in memory that a filter cannot read; ENOSYS makes libc fall back to clone,
  whose flags are checked.
- mount and the new mount API, pivot_root, ptrace, bpf, perf_event_open, userfaultfd, kexec, modules, swap,
  reboot, acct, quotactl, open_by_handle_at (EPERM): kernel attack surface no test program needs.
- a foreign architecture's system calls (a 32-bit int 0x80 on x86_64) kill the process: their numbers differ, so
  the list above would not hold for them; x32 system calls get ENOSYS.

    prog = filter_program()          # None on an architecture this module does not know
    install(prog)                    # no_new_privs + the filter, for this thread and what it starts
    bwrap --seccomp FD               # the same bytes, read from a pipe
"""

import ctypes
import errno
import os
import struct

AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}

_DENY = (
    "add_key",
    "request_key",
    "keyctl",
    "setns",
    "mount",
    "umount2",
    "pivot_root",
    "ptrace",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "swapon",
    "swapoff",
    "reboot",
    "acct",
    "quotactl",
    "quotactl_fd",
    "open_by_handle_at",
    "open_tree",
    "move_mount",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "mount_setattr",
)

SYSCALLS = {
    "x86_64": {
        "clone": 56,
        "ptrace": 101,
        "pivot_root": 155,
        "acct": 163,
        "mount": 165,
        "umount2": 166,
        "swapon": 167,
        "swapoff": 168,
        "reboot": 169,
        "init_module": 175,
        "delete_module": 176,
        "quotactl": 179,
        "kexec_load": 246,
        "add_key": 248,
        "request_key": 249,
        "keyctl": 250,
        "unshare": 272,
        "perf_event_open": 298,
        "open_by_handle_at": 304,
        "setns": 308,
        "finit_module": 313,
        "kexec_file_load": 320,
        "bpf": 321,
        "userfaultfd": 323,
        "open_tree": 428,
        "move_mount": 429,
        "fsopen": 430,
        "fsconfig": 431,
        "fsmount": 432,
        "fspick": 433,
        "clone3": 435,
        "mount_setattr": 442,
        "quotactl_fd": 443,
    },
    "aarch64": {
        "umount2": 39,
        "mount": 40,
        "pivot_root": 41,
        "quotactl": 60,
        "acct": 89,
        "unshare": 97,
        "kexec_load": 104,
        "init_module": 105,
        "delete_module": 106,
        "ptrace": 117,
        "reboot": 142,
        "add_key": 217,
        "request_key": 218,
        "keyctl": 219,
        "clone": 220,
        "swapon": 224,
        "swapoff": 225,
        "perf_event_open": 241,
        "open_by_handle_at": 265,
        "setns": 268,
        "finit_module": 273,
        "bpf": 280,
        "userfaultfd": 282,
        "kexec_file_load": 294,
        "open_tree": 428,
        "move_mount": 429,
        "fsopen": 430,
        "fsconfig": 431,
        "fsmount": 432,
        "fspick": 433,
        "clone3": 435,
        "mount_setattr": 442,
        "quotactl_fd": 443,
    },
}

# CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET; unshare also takes CLONE_NEWTIME (0x80, which
# in clone's flags is part of the exit signal and never a valid signal bit).
CLONE_NAMESPACES = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000
UNSHARE_NAMESPACES = CLONE_NAMESPACES | 0x00000080
X32_SYSCALL_BIT = 0x40000000

_LD_W_ABS, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06
RET_KILL_PROCESS, RET_ALLOW, RET_ERRNO = 0x80000000, 0x7FFF0000, 0x00050000
_OFF_NR, _OFF_ARCH, _OFF_ARG0 = 0, 4, 16  # struct seccomp_data; args[0]'s low word (little-endian)

PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2


def machine():
    """'x86_64' | 'aarch64' for a 64-bit process on those, else None."""
    m = os.uname().machine.lower()  # (not `platform`: the runner that forks every test stays small)
    m = {"amd64": "x86_64", "arm64": "aarch64"}.get(m, m)
    if m not in SYSCALLS or struct.calcsize("P") != 8:
        return None
    return m


def filter_program(arch=None):
    """The filter as bytes (struct sock_filter[]), or None when the architecture is not known here."""
    arch = arch or machine()
    if arch not in SYSCALLS:
        return None
    nr = SYSCALLS[arch]
    # (code, jt, jf, k): jt/jf are labels (str) or 0 (the next instruction); resolved below.
    code = [
        (_LD_W_ABS, 0, 0, _OFF_ARCH),
        (_JEQ, "nr", 0, AUDIT_ARCH[arch]),
        (_RET, 0, 0, RET_KILL_PROCESS),
        ("nr", _LD_W_ABS, 0, 0, _OFF_NR),
    ]
    if arch == "x86_64":
        code.append((_JGE, "enosys", 0, X32_SYSCALL_BIT))
    code += [(_JEQ, "eperm", 0, nr[name]) for name in _DENY]
    code += [
        (_JEQ, "enosys", 0, nr["clone3"]),
        (_JEQ, "clone", 0, nr["clone"]),
        (_JEQ, "unshare", 0, nr["unshare"]),
        (_RET, 0, 0, RET_ALLOW),
        ("clone", _LD_W_ABS, 0, 0, _OFF_ARG0),
        (_JSET, "eperm", 0, CLONE_NAMESPACES),
        (_RET, 0, 0, RET_ALLOW),
        ("unshare", _LD_W_ABS, 0, 0, _OFF_ARG0),
        (_JSET, "eperm", 0, UNSHARE_NAMESPACES),
        (_RET, 0, 0, RET_ALLOW),
        ("eperm", _RET, 0, 0, RET_ERRNO | errno.EPERM),
        ("enosys", _RET, 0, 0, RET_ERRNO | errno.ENOSYS),
    ]
    labels, insns = {}, []
    for ins in code:
        if isinstance(ins[0], str):
            labels[ins[0]] = len(insns)
            ins = ins[1:]
        insns.append(ins)
    out = []
    for i, (op, jt, jf, k) in enumerate(insns):
        jt, jf = (labels[j] - i - 1 if isinstance(j, str) else j for j in (jt, jf))
        if not (0 <= jt < 256 and 0 <= jf < 256):
            raise ValueError("seccomp jump out of range")
        out.append(struct.pack("=HBBI", op, jt, jf, k))
    return b"".join(out)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install(program):
    """no_new_privs, then the filter, for the calling thread (call it while single-threaded) and everything it
    starts later. Raises OSError when the kernel refuses either."""
    if not program or len(program) % 8:
        raise ValueError("not a seccomp program")
    libc = ctypes.CDLL(None, use_errno=True)
    prctl = libc.prctl
    ul = ctypes.c_ulong
    if prctl(ctypes.c_int(PR_SET_NO_NEW_PRIVS), ul(1), ul(0), ul(0), ul(0)) != 0:
        e = ctypes.get_errno()
        raise OSError(e, "prctl(PR_SET_NO_NEW_PRIVS): " + os.strerror(e))
    buf = ctypes.create_string_buffer(bytes(program), len(program))
    prog = _SockFprog(len(program) // 8, ctypes.cast(buf, ctypes.c_void_p))
    if prctl(ctypes.c_int(PR_SET_SECCOMP), ul(SECCOMP_MODE_FILTER), ctypes.byref(prog), ul(0), ul(0)) != 0:
        e = ctypes.get_errno()
        raise OSError(e, "prctl(PR_SET_SECCOMP): " + os.strerror(e))
