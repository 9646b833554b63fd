"""A small MQTT 3.1.1 client for the devices (MicroPython and CPython).

Hand-written because micropython-lib's umqtt is not on PyPI and does not track several
QoS 1 messages in flight, which the store-and-forward queue needs: a batch leaves the
queue only when *its* PUBACK arrives. Every wait is bounded by `timeout_ms`; any socket
error closes the connection and raises MQTTError, and the caller reconnects cleanly.
"""

import struct

try:
    import select
    import socket
except ImportError:  # very old ports
    import uselect as select
    import usocket as socket

from common.compat import ticks_add, ticks_diff, ticks_ms

CONNECT = 0x10
CONNACK = 0x20
PUBLISH = 0x30
PUBACK = 0x40
SUBSCRIBE = 0x82  # with the reserved flag bits 0010
SUBACK = 0x90
PINGREQ = 0xC0
PINGRESP = 0xD0
DISCONNECT = 0xE0

CONNACK_CODES = {
    1: "unacceptable protocol version",
    2: "client id rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorised",
}


class MQTTError(Exception):
    pass


def encode_length(n):
    """MQTT's variable-length 'remaining length'."""
    if n < 0 or n > 268435455:
        raise ValueError("remaining length out of range")
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def encode_str(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("!H", len(b)) + b


def connect_packet(client_id, user, password, keepalive, will, clean):
    """CONNECT; `will` is (topic, message, qos, retain) or None."""
    flags = 0x02 if clean else 0
    payload = encode_str(client_id)
    if will is not None:
        topic, msg, qos, retain = will
        flags |= 0x04 | (qos << 3) | (0x20 if retain else 0)
        payload += encode_str(topic) + encode_str(msg)
    if user:
        flags |= 0x80
        payload += encode_str(user)
        if password:
            flags |= 0x40
            payload += encode_str(password)
    var = encode_str("MQTT") + bytes([4, flags]) + struct.pack("!H", keepalive)
    body = var + payload
    return bytes([CONNECT]) + encode_length(len(body)) + body


def publish_packet(topic, msg, qos, retain, pid, dup=False):
    head = PUBLISH | (qos << 1) | (1 if retain else 0) | (0x08 if dup else 0)
    var = encode_str(topic)
    if qos:
        var += struct.pack("!H", pid)
    n = len(var) + len(msg)
    return bytes([head]) + encode_length(n) + var, msg


class MQTTClient:
    def __init__(
        self,
        client_id,
        host,
        port=1883,
        user=None,
        password=None,
        keepalive=60,
        timeout_ms=10000,
        ca=None,
    ):
        """`ca`: DER bytes of the CA that signed the broker's certificate; given, the client
        speaks TLS and verifies the broker (name included), never TLS without verifying."""
        self.ca = ca
        self.client_id = client_id
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.keepalive = keepalive
        self.timeout_ms = timeout_ms
        self.sock = None
        self.poller = None
        self._pid = 0
        self.inflight = {}  # pid -> topic, QoS 1 messages waiting for PUBACK
        self.on_message = None  # callback(topic: str, message: bytes, retained: bool)
        self.tx_bytes = 0
        self.rx_bytes = 0
        self._last_tx = 0

    # -- connection ----------------------------------------------------------------------

    def connect(self, will=None, clean=True):
        """Open the socket and log in. Returns the broker's session-present flag."""
        self.close()
        try:
            addr = None
            for info in socket.getaddrinfo(self.host, self.port, 0, socket.SOCK_STREAM):
                if info[0] == socket.AF_INET:
                    addr = info[-1]
                    break
            if addr is None:
                raise OSError("no IPv4 address for " + self.host)
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.settimeout(self.timeout_ms / 1000)
            self.sock.connect(addr)
            if self.ca is not None:
                self.sock = self._tls(self.sock)
            self.poller = select.poll()
            self.poller.register(self.sock, select.POLLIN)
        except OSError as exc:
            self.close()
            raise MQTTError("connect failed: " + repr(exc))
        self.inflight = {}
        self._send(
            connect_packet(self.client_id, self.user, self.password, self.keepalive, will, clean)
        )
        packet = self._read_packet(self.timeout_ms)
        if packet is None or packet[0] != CONNACK or len(packet[1]) != 2:
            self.close()
            raise MQTTError("no CONNACK")
        code = packet[1][1]
        if code:
            self.close()
            raise MQTTError("refused: " + CONNACK_CODES.get(code, str(code)))
        return bool(packet[1][0] & 1)

    def _tls(self, sock):
        import ssl

        if hasattr(ssl, "create_default_context"):  # CPython
            ctx = ssl.create_default_context(cadata=self.ca)
        else:  # MicroPython (mbedTLS)
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(cadata=self.ca)
        return ctx.wrap_socket(sock, server_hostname=self.host)

    @property
    def connected(self):
        return self.sock is not None

    def disconnect(self):
        """Clean DISCONNECT: the broker discards the last will."""
        if self.sock is not None:
            try:
                self._send(bytes([DISCONNECT, 0]))
            except MQTTError:
                pass
        self.close()

    def close(self):
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
        self.sock = None
        self.poller = None

    # -- wire ----------------------------------------------------------------------------

    def _send(self, data):
        if self.sock is None:
            raise MQTTError("not connected")
        try:
            view = memoryview(data)
            sent = 0
            write = self.sock.write if hasattr(self.sock, "write") else self.sock.send
            while sent < len(data):
                n = write(view[sent:])
                if not n:
                    raise OSError("connection closed")
                sent += n
        except OSError as exc:
            self.close()
            raise MQTTError("send failed: " + repr(exc))
        self.tx_bytes += len(data)
        self._last_tx = ticks_ms()

    def _recv_exact(self, n, deadline):
        buf = b""
        while len(buf) < n:
            if ticks_diff(deadline, ticks_ms()) <= 0:
                self.close()
                raise MQTTError("timeout inside a packet")
            try:
                if hasattr(self.sock, "read"):  # MicroPython (its TLS sockets have no recv)
                    chunk = self.sock.read(n - len(buf))
                else:
                    chunk = self.sock.recv(n - len(buf))
            except OSError as exc:
                self.close()
                raise MQTTError("receive failed: " + repr(exc))
            if not chunk:
                self.close()
                raise MQTTError("connection closed by broker")
            buf += chunk
        self.rx_bytes += n
        return buf

    def _read_packet(self, wait_ms):
        """One packet (type byte, body), or None when nothing arrives within wait_ms."""
        if self.sock is None:
            raise MQTTError("not connected")
        # CPython's TLS may hold decrypted bytes the socket's poll cannot see.
        pending = hasattr(self.sock, "pending") and self.sock.pending()
        events = [] if pending else self.poller.poll(max(0, wait_ms))
        if not events and not pending:
            return None
        for _obj, ev in events:
            if ev & (select.POLLERR | select.POLLHUP) and not ev & select.POLLIN:
                self.close()
                raise MQTTError("connection lost")
        # A packet that has started must finish within the client timeout.
        deadline = ticks_add(ticks_ms(), self.timeout_ms)
        head = self._recv_exact(1, deadline)[0]
        length = 0
        shift = 0
        while True:
            b = self._recv_exact(1, deadline)[0]
            length |= (b & 0x7F) << shift
            if not b & 0x80:
                break
            shift += 7
            if shift > 21:
                self.close()
                raise MQTTError("malformed remaining length")
        body = self._recv_exact(length, deadline) if length else b""
        return head, body

    def _handle(self, head, body):
        """Act on one incoming packet; returns its type."""
        kind = head & 0xF0
        if kind == PUBACK and len(body) >= 2:
            pid = struct.unpack("!H", body[:2])[0]
            self.inflight.pop(pid, None)
        elif kind == PUBLISH:
            qos = (head >> 1) & 3
            tlen = struct.unpack("!H", body[:2])[0]
            topic = bytes(body[2 : 2 + tlen]).decode()
            pos = 2 + tlen
            if qos:
                pid = struct.unpack("!H", body[pos : pos + 2])[0]
                pos += 2
            msg = bytes(body[pos:])
            if self.on_message is not None:
                self.on_message(topic, msg, bool(head & 1))
            if qos == 1:
                self._send(bytes([PUBACK, 2]) + struct.pack("!H", pid))
        return kind

    # -- operations ----------------------------------------------------------------------

    def _next_pid(self):
        self._pid = self._pid % 65535 + 1
        return self._pid

    def publish(self, topic, msg, qos=0, retain=False):
        """Send a message; for QoS 1 returns the packet id to wait for (see `inflight`)."""
        if isinstance(msg, str):
            msg = msg.encode()
        pid = self._next_pid() if qos else 0
        head, payload = publish_packet(topic, msg, qos, retain, pid)
        self._send(head)
        self._send(payload)
        if qos:
            self.inflight[pid] = topic
        return pid

    def wait_acked(self, pids, timeout_ms=None):
        """Process incoming packets until none of `pids` is in flight. True if acknowledged
        in time; False on timeout (the connection is then unreliable: reconnect)."""
        deadline = ticks_add(ticks_ms(), (self.timeout_ms if timeout_ms is None else timeout_ms))
        while True:
            waiting = False
            for pid in pids:
                if pid in self.inflight:
                    waiting = True
                    break
            if not waiting:
                return True
            left = ticks_diff(deadline, ticks_ms())
            if left <= 0:
                return False
            packet = self._read_packet(min(left, 1000))
            if packet is not None:
                self._handle(packet[0], packet[1])

    def subscribe(self, topic, qos=1):
        pid = self._next_pid()
        body = struct.pack("!H", pid) + encode_str(topic) + bytes([qos])
        self._send(bytes([SUBSCRIBE]) + encode_length(len(body)) + body)
        deadline = ticks_add(ticks_ms(), self.timeout_ms)
        while True:
            left = ticks_diff(deadline, ticks_ms())
            if left <= 0:
                self.close()
                raise MQTTError("no SUBACK")
            packet = self._read_packet(left)
            if packet is None:
                continue
            if packet[0] & 0xF0 == SUBACK:
                if packet[1][2:3] == b"\x80":
                    raise MQTTError("subscription refused: " + topic)
                return
            self._handle(packet[0], packet[1])

    def ping(self):
        """PINGREQ and wait for PINGRESP (bounded)."""
        self._send(bytes([PINGREQ, 0]))
        deadline = ticks_add(ticks_ms(), self.timeout_ms)
        while True:
            left = ticks_diff(deadline, ticks_ms())
            if left <= 0:
                self.close()
                raise MQTTError("no PINGRESP")
            packet = self._read_packet(left)
            if packet is not None and self._handle(packet[0], packet[1]) == PINGRESP:
                return

    def poll(self, wait_ms=0):
        """Handle whatever arrives within wait_ms; ping when the keepalive is due."""
        deadline = ticks_add(ticks_ms(), wait_ms)
        while True:
            if self.keepalive and ticks_diff(ticks_ms(), self._last_tx) > self.keepalive * 500:
                self.ping()
            left = ticks_diff(deadline, ticks_ms())
            packet = self._read_packet(max(0, left))
            if packet is not None:
                self._handle(packet[0], packet[1])
            elif left <= 0:
                return
