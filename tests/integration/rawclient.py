"""A minimal raw client for the RPC port, for bad-input tests: TLS, frames,
hand-encoded protobuf (only the fields the tests need) and the request
signing scheme of server/crypto/sign.h."""
import hashlib
import hmac
import socket
import ssl
import struct
import time


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field_bytes(num, data):
    if isinstance(data, str):
        data = data.encode()
    return varint(num << 3 | 2) + varint(len(data)) + data


def field_varint(num, value):
    return varint(num << 3) + varint(value)


def read_varint(buf, i):
    shift = n = 0
    while True:
        b = buf[i]
        i += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, i


def decode(buf):
    """Decode a message into {field: [values]} (bytes for length-delimited)."""
    out, i = {}, 0
    while i < len(buf):
        key, i = read_varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = read_varint(buf, i)
        elif wt == 2:
            ln, i = read_varint(buf, i)
            v = bytes(buf[i:i + ln])
            i += ln
        elif wt == 1:
            v = buf[i:i + 8]
            i += 8
        elif wt == 5:
            v = buf[i:i + 4]
            i += 4
        else:
            raise ValueError("bad wire type")
        out.setdefault(num, []).append(v)
    return out


def signing_key(secret, day, region):
    k = hmac.new(("COFFER1" + secret).encode(), day.encode(), hashlib.sha256).digest()
    k = hmac.new(k, region.encode(), hashlib.sha256).digest()
    k = hmac.new(k, b"coffer", hashlib.sha256).digest()
    return hmac.new(k, b"coffer1_request", hashlib.sha256).digest()


def sign(akid, secret, date, region, op, payload):
    sts = "\n".join(["COFFER1-HMAC-SHA256", date,
                     f"{date[:8]}/{region}/coffer/coffer1_request", akid, op,
                     hashlib.sha256(payload).hexdigest()])
    return hmac.new(signing_key(secret, date[:8], region), sts.encode(),
                    hashlib.sha256).hexdigest()


def envelope(call_id, op, payload, akid=None, secret=None, region="us-east-1",
             date=None, signature=None, auth=True):
    msg = field_varint(1, call_id) + field_bytes(2, op)
    if auth:
        date = date or time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        sig = signature or sign(akid, secret, date, region, op, payload)
        a = field_bytes(1, akid) + field_bytes(2, date) + field_bytes(3, region) + \
            field_bytes(4, sig)
        msg += field_bytes(3, a)
    msg += field_bytes(4, payload)
    return msg


class Raw:
    def __init__(self, addr, ca_file, timeout=10):
        host, port = addr.rsplit(":", 1)
        ctx = ssl.create_default_context(cafile=ca_file)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        s = socket.create_connection((host, int(port)), timeout=timeout)
        self.sock = ctx.wrap_socket(s, server_hostname=host)

    def send_raw(self, data):
        self.sock.sendall(data)

    def send_frame(self, body):
        self.sock.sendall(struct.pack(">I", len(body)) + body)

    def recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise EOFError("connection closed")
            buf += chunk
        return buf

    def recv_frame(self):
        (n,) = struct.unpack(">I", self.recv_exact(4))
        return decode(self.recv_exact(n))

    def closed_by_peer(self):
        """True if the server closes the connection (EOF or reset)."""
        try:
            data = self.sock.recv(1)
            return data == b""
        except (ssl.SSLError, ConnectionResetError, EOFError, OSError):
            return True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def error_of(env):
    """(type, message) of an answer envelope, or None."""
    if 5 not in env:
        return None
    e = decode(env[5][0])
    return (e.get(1, [b""])[0].decode(), e.get(2, [b""])[0].decode())
