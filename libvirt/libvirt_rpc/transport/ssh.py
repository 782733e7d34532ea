"""The ``ssh`` transport: runs ``ssh ... -- host 'sh -c ...'`` whose remote
command bridges to the daemon's socket with ``virt-ssh-helper`` or ``nc``;
the command line is built exactly as libvirt 9.x builds it.
"""

from __future__ import annotations

from ..uri import LibvirtURI, shell_escape_twice
from .command import CommandTransport

__all__ = ["SshTransport", "ssh_argv", "ssh_remote_command"]


def ssh_remote_command(uri: LibvirtURI, readonly: bool = False) -> str:
    """The command ssh runs remotely (virNetClientSSHHelperCommand).

    ``sh -c '...'`` that starts ``virt-ssh-helper URI`` (proxy "native"),
    ``nc -U SOCKET`` (proxy "netcat", forced by ``netcat=``/``socket=``), or
    the helper when installed and nc otherwise (proxy "auto", the default).
    Quoting is libvirt's: arguments escaped twice, the socket path not at all.
    """
    proxy = uri.proxy
    netcat = uri.netcat
    if proxy == "auto" and netcat is not None:
        proxy = "netcat"
    nc = shell_escape_twice(netcat if netcat is not None else "nc")
    nccmd = (
        f"if '{nc}' -q 2>&1 | grep \"requires an argument\" >/dev/null 2>&1; then "
        "ARG=-q0;"
        "else "
        "ARG=;"
        "fi;"
        f"'{nc}' $ARG -U {uri.socket_path(readonly)}"
    )
    helper = "virt-ssh-helper{}'{}'".format(
        " -r " if readonly else " ", shell_escape_twice(uri.name_for_server)
    )
    if proxy == "native":
        return f"sh -c '{helper}'"
    if proxy == "netcat":
        return f"sh -c '{nccmd}'"
    return (
        "sh -c 'which virt-ssh-helper 1>/dev/null 2>&1; "
        "if test $? = 0; then "
        f"    {helper}; "
        "else"
        f"    {nccmd}; "
        "fi'"
    )


def ssh_argv(uri: LibvirtURI, readonly: bool = False) -> list[str]:
    """The ssh command line (virNetSocketNewConnectSSH).

    ``ssh [-p PORT] [-l USER] [-i KEYFILE] -T -e none [-o BatchMode=yes]
    [-o StrictHostKeyChecking=no] -- HOST 'sh -c ...'``: ``-p`` only for an
    explicit port, BatchMode for ``no_tty=1``, StrictHostKeyChecking=no for
    ``no_verify=1``, the binary from ``command=``.  One addition of ours:
    ``known_hosts=FILE`` adds ``-o UserKnownHostsFile=FILE`` (libvirt only
    honours it for libssh/libssh2).
    """
    argv = [uri.command or "ssh"]
    if uri.port_given and uri.port is not None:
        argv += ["-p", str(uri.port)]
    if uri.user is not None:
        argv += ["-l", uri.user]
    if uri.keyfile is not None:
        argv += ["-i", uri.keyfile]
    argv += ["-T", "-e", "none"]
    if uri.no_tty:
        argv += ["-o", "BatchMode=yes"]
    if uri.no_verify:
        argv += ["-o", "StrictHostKeyChecking=no"]
    if uri.known_hosts is not None:
        argv += ["-o", f"UserKnownHostsFile={uri.known_hosts}"]
    argv += ["--", uri.connect_host, ssh_remote_command(uri, readonly)]
    return argv


class SshTransport(CommandTransport):
    name = "ssh"

    def argv(self, uri: LibvirtURI, readonly: bool = False) -> list[str]:
        return ssh_argv(uri, readonly)
