#!/usr/bin/env python3
"""An independent implementation of docs/content-format.md, written from the
document alone on top of pyca/cryptography, so the tests can check that the
format is implementable and that symbolon agrees with it both ways. Version 1
(RSA-OAEP) and version 2 (HPKE to P-256, P-384 or X25519 keys, through
pyca/cryptography's own HPKE, which is OpenSSL's).

  content-reference.py vectors VECTORS.json RECIPIENT-PRIVATE.pem
  content-reference.py open RECIPIENT-PRIVATE.pem IN OUT
  content-reference.py seal RECIPIENT-PUBLIC.pem IN OUT [CONTENT-ID-HEX]

Exit 0 on success; 1 with a message on any failure.
"""

import hashlib
import hmac
import json
import os
import struct
import sys

from cryptography.hazmat.primitives import hashes, hpke, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.exceptions import InvalidTag

MAGIC = b"symbolon-content"
OAEP = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
# Version 2: the KEM id, its encapsulated key length, pyca's KEM.
KEMS = {0x0010: (65, hpke.KEM.P256), 0x0011: (97, hpke.KEM.P384), 0x0020: (32, hpke.KEM.X25519)}
HPKE_INFO = b"symbolon-content v2 key"


def kem_of(key):
    """The KEM id for a public or private key's curve (version 2)."""
    if isinstance(key, (x25519.X25519PublicKey, x25519.X25519PrivateKey)):
        return 0x0020
    if isinstance(key, (ec.EllipticCurvePublicKey, ec.EllipticCurvePrivateKey)):
        return {"secp256r1": 0x0010, "secp384r1": 0x0011}[key.curve.name]
    raise ValueError("not a P-256, P-384 or X25519 key")


def suite(kem_id):
    return hpke.Suite(KEMS[kem_id][1], hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)


def unwrap(private_key, h):
    """The content key from the header's wrapped key, by the key's kind."""
    if isinstance(private_key, rsa.RSAPrivateKey):
        try:
            return private_key.decrypt(h["wrapped"], OAEP)
        except ValueError:
            raise FormatError("wrong_recipient", "the content key does not unwrap")
    kem_id = kem_of(private_key)
    w = h["wrapped"]
    if int.from_bytes(w[:2], "big") != kem_id:
        raise FormatError("wrong_recipient", "wrapped with another KEM")
    try:
        return suite(kem_id).decrypt(w[2:], private_key, info=HPKE_INFO + h["content_id"])
    except Exception:
        # Sealed to this key and not opening: the header was altered.
        spki = private_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        if hashlib.sha256(spki).digest() == h["recipient"]:
            raise FormatError("header_altered", "the wrapped key does not open")
        raise FormatError("wrong_recipient", "the content key does not unwrap")


class FormatError(Exception):
    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind


def derive(key, salt, info):
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(key)


def nonce(index, last):
    return index.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


def read_header(stream):
    fixed = stream.read(100)
    if len(fixed) < 100:
        raise FormatError("not_sealed", "the stream ends inside the header")
    if fixed[:16] != MAGIC:
        raise FormatError("not_sealed", "bad magic")
    version = fixed[16]
    if version not in (1, 2):
        raise FormatError("not_sealed", "unknown version")
    c = fixed[17]
    if not 10 <= c <= 24:
        raise FormatError("not_sealed", "chunk size out of range")
    (wrapped_len,) = struct.unpack(">H", fixed[98:100])
    if version == 1 and not 256 <= wrapped_len <= 512:
        raise FormatError("not_sealed", "wrapped key length out of range")
    if version == 2 and not 82 <= wrapped_len <= 147:
        raise FormatError("not_sealed", "wrapped key length out of range")
    rest = stream.read(wrapped_len + 32)
    if len(rest) < wrapped_len + 32:
        raise FormatError("not_sealed", "the stream ends inside the header")
    if version == 2:
        kem = KEMS.get(int.from_bytes(rest[:2], "big"))
        if kem is None or wrapped_len != 2 + kem[0] + 48:
            raise FormatError("not_sealed", "unknown KEM or wrapped key length")
    return {
        "chunk_size": 1 << c,
        "recipient": fixed[18:50],
        "content_id": fixed[50:66],
        "salt": fixed[66:98],
        "wrapped": rest[:wrapped_len],
        "authenticated": fixed + rest[:wrapped_len],
        "mac": rest[wrapped_len:],
    }


def open_stream(private_key, stream, out):
    h = read_header(stream)
    k = unwrap(private_key, h)
    if len(k) != 32:
        raise FormatError("not_sealed", "the content key is not 32 bytes")
    mac = hmac.new(derive(k, h["salt"], b"symbolon-content v1 header"), h["authenticated"], hashlib.sha256).digest()
    if not hmac.compare_digest(mac, h["mac"]):
        raise FormatError("header_altered", "the header MAC does not verify")
    aead = AESGCM(derive(k, h["salt"], b"symbolon-content v1 payload"))
    full = h["chunk_size"] + 16
    index, buf = 0, b""
    while True:
        buf += stream.read(full + 1 - len(buf))
        if not buf:
            raise FormatError("truncated", "no final chunk")
        last = len(buf) <= full
        chunk, buf = buf[:full], buf[full:]
        if len(chunk) < 16:
            raise FormatError("chunk_altered", f"chunk {index} is shorter than a tag")
        try:
            piece = aead.decrypt(nonce(index, last), chunk, None)
        except InvalidTag:
            raise FormatError("chunk_altered", f"chunk {index} does not authenticate")
        if last and not piece and index > 0:
            raise FormatError("chunk_altered", "empty last chunk after others")
        out.write(piece)
        index += 1
        if last:
            return h


def seal_stream(public_key, stream, out, content_id, c=16):
    k, salt = os.urandom(32), os.urandom(32)
    spki = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    if isinstance(public_key, rsa.RSAPublicKey):
        version, wrapped = 1, public_key.encrypt(k, OAEP)
    else:
        kem_id = kem_of(public_key)
        version = 2
        wrapped = kem_id.to_bytes(2, "big") + suite(kem_id).encrypt(
            k, public_key, info=HPKE_INFO + content_id)
    header = (MAGIC + bytes([version, c]) + hashlib.sha256(spki).digest() + content_id + salt
              + struct.pack(">H", len(wrapped)) + wrapped)
    header += hmac.new(derive(k, salt, b"symbolon-content v1 header"), header, hashlib.sha256).digest()
    out.write(header)
    aead = AESGCM(derive(k, salt, b"symbolon-content v1 payload"))
    size, index = 1 << c, 0
    piece = stream.read(size)
    while True:
        following = stream.read(size)
        last = not following
        out.write(aead.encrypt(nonce(index, last), piece, None))
        if last:
            return
        piece, index = following, index + 1


def check_vectors(path, key):
    doc = json.load(open(path))
    for v in doc["vectors"]:
        import io
        sealed = bytes.fromhex(v["sealed"])
        out = io.BytesIO()
        try:
            open_stream(key, io.BytesIO(sealed), out)
            got = "ok"
        except FormatError as e:
            got = e.kind
        if got != v["result"]:
            raise SystemExit(f"vector {v['name']!r}: expected {v['result']}, got {got}")
        if got == "ok":
            if out.getvalue() != bytes.fromhex(v["plaintext"]):
                raise SystemExit(f"vector {v['name']!r}: wrong plaintext")
            h = read_header(io.BytesIO(sealed))
            if h["wrapped"] != bytes.fromhex(v["wrapped_key"]) or unwrap(key, h) != bytes.fromhex(v["content_key"]):
                raise SystemExit(f"vector {v['name']!r}: wrapped key does not unwrap to the content key")
    print(f"{len(doc['vectors'])} vectors agree")


def main(argv):
    if len(argv) >= 3 and argv[0] == "vectors":
        key = serialization.load_pem_private_key(open(argv[2], "rb").read(), password=None)
        check_vectors(argv[1], key)
    elif len(argv) == 4 and argv[0] == "open":
        key = serialization.load_pem_private_key(open(argv[1], "rb").read(), password=None)
        with open(argv[2], "rb") as i, open(argv[3], "wb") as o:
            try:
                open_stream(key, i, o)
            except FormatError as e:
                raise SystemExit(f"{e.kind}: {e}")
    elif len(argv) in (4, 5) and argv[0] == "seal":
        key = serialization.load_pem_public_key(open(argv[1], "rb").read())
        cid = bytes.fromhex(argv[4]) if len(argv) == 5 else os.urandom(16)
        with open(argv[2], "rb") as i, open(argv[3], "wb") as o:
            seal_stream(key, i, o, cid)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
