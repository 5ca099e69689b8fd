#!/usr/bin/env python3
"""An independent verifier of symbolon's transparency log, written from
docs/transparency.md (RFC 9162 §2.1, C2SP signed-note and tlog-checkpoint)
and nothing of symbolon's code: it shows that what symbolon produces can be
checked by a third person with standard tools (Python's hashlib and
pyca/cryptography's Ed25519).

    log-verify.py inclusion   --entry E --proof P --checkpoint C --log-key K
    log-verify.py consistency --old C1 --new C2 --proof P --log-key K
    log-verify.py checkpoint  --checkpoint C --log-key K [--witness W]... [--require N]

K is the verifier key string (name+keyid+base64(0x01||key)) or a file
holding it; W a witness's cosignature key (type 0x04, C2SP
tlog-cosignature). Exit 0 when everything checks, 1 with the reason
otherwise.
"""

import argparse
import base64
import hashlib
import json
import os
import struct
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


class VerifyError(Exception):
    pass


def sha256(*parts):
    h = hashlib.sha256()
    for p in parts:
        h.update(p)
    return h.digest()


def leaf_hash(data):
    return sha256(b"\x00", data)


def node_hash(left, right):
    return sha256(b"\x01", left, right)


# --- signed notes (C2SP signed-note) ----------------------------------------

def parse_vkey(text, kind=b"\x01"):
    text = text.strip()
    parts = text.split("+", 2)
    if len(parts) != 3:
        raise VerifyError("the key is not name+keyid+key")
    name, keyid, key = parts
    raw = base64.b64decode(key, validate=True)
    if len(keyid) != 8 or raw[:1] != kind or len(raw) != 33:
        raise VerifyError("the key is not an Ed25519 signed-note key of type 0x%02x" % kind[0])
    want = sha256(name.encode(), b"\n", raw)[:4]
    if want.hex() != keyid:
        raise VerifyError("the log key's ID does not match its name and key")
    return name, want, Ed25519PublicKey.from_public_bytes(raw[1:])


MAX_NOTE = 64 * 1024
MAX_SIGNATURES = 100


def open_note(note, vkey):
    """Returns the note's text if the key in vkey signed it."""
    name, keyid, public = vkey
    if len(note.encode()) > MAX_NOTE:
        raise VerifyError("the checkpoint is longer than 64 KiB")
    if any(c != "\n" and (ord(c) < 0x20 or ord(c) == 0x7F) for c in note):
        raise VerifyError("the checkpoint holds a control character other than newline")
    sep = note.rfind("\n\n")
    if sep < 0 or not note.endswith("\n"):
        raise VerifyError("the checkpoint is not a signed note")
    text, sigs = note[: sep + 1], note[sep + 2:]
    verified = False
    if len(sigs[:-1].split("\n")) > MAX_SIGNATURES:
        raise VerifyError("the checkpoint has more than 100 signatures")
    for line in sigs[:-1].split("\n"):
        if not line.startswith("\u2014 "):
            raise VerifyError("a signature line does not start with an em dash")
        signer, _, blob = line[2:].partition(" ")
        raw = base64.b64decode(blob, validate=True)
        if signer != name or raw[:4] != keyid:
            continue  # another party's signature: ignored, as the spec says
        try:
            public.verify(raw[4:], text.encode())
        except InvalidSignature:
            raise VerifyError("the checkpoint's signature by the log key does not verify")
        verified = True
    if not verified:
        raise VerifyError("the checkpoint carries no signature of the log key")
    return text


def cosigners(note, witnesses):
    """The distinct witness keys (parsed type-0x04 keys) whose cosignature
    of the note's text verifies; a bad line of a known witness refuses the
    note. Counted by public key: one key under two names is one witness."""
    sep = note.rfind("\n\n")
    text, sigs = note[: sep + 1], note[sep + 2:]
    signed = set()
    for line in sigs[:-1].split("\n"):
        signer, _, blob = line[2:].partition(" ")
        raw = base64.b64decode(blob, validate=True)
        for name, keyid, public in witnesses:
            if signer != name or raw[:4] != keyid:
                continue
            if len(raw) != 4 + 8 + 64:
                raise VerifyError(f"the cosignature of {name} is not timestamped Ed25519")
            (t,) = struct.unpack(">Q", raw[4:12])
            message = f"cosignature/v1\ntime {t}\n{text}".encode()
            try:
                public.verify(raw[12:], message)
            except InvalidSignature:
                raise VerifyError(f"the cosignature of {name} does not verify")
            signed.add(public.public_bytes_raw())
    return signed


def open_checkpoint(note, vkey):
    text = open_note(note, vkey)
    lines = text[:-1].split("\n")
    if len(lines) != 3:
        raise VerifyError("the checkpoint's text is not origin, size, root")
    origin, size, root = lines
    if origin != vkey[0]:
        raise VerifyError("the checkpoint is of another log")
    if not size.isdigit() or (size != "0" and size.startswith("0")):
        raise VerifyError("the checkpoint's size is not a decimal count")
    root = base64.b64decode(root, validate=True)
    if len(root) != 32:
        raise VerifyError("the checkpoint's root is not 32 bytes")
    return int(size), root


# --- the entry's leaf (docs/transparency.md §2) ------------------------------

def lp(b):
    return struct.pack(">I", len(b)) + b


def entry_bytes(e):
    return b"".join([
        lp(b"symbolon/audit-entry/v1"),
        struct.pack(">Q", e["seq"]),
        struct.pack(">Q", e["at"]),
        lp(e["kind"].encode()),
        lp(e["detail"].encode()),
        lp(bytes.fromhex(e["prev_hash"])),
    ])


# --- RFC 9162 §2.1.3.2 and §2.1.4.2 ------------------------------------------

def to_set_bit(fn, sn):
    """RFC 9162 §2.1.3.2 and §2.1.4.2: right-shift fn and sn equally until
    fn's lowest bit is set or fn is 0."""
    while True:
        fn >>= 1
        sn >>= 1
        if fn & 1 or fn == 0:
            return fn, sn


def verify_inclusion(index, size, leaf, proof, root):
    if index >= size:
        raise VerifyError("the entry is not within the tree's size")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise VerifyError("the inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                fn, sn = to_set_bit(fn, sn)
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerifyError("the inclusion proof is too short")
    if r != root:
        raise VerifyError("the inclusion proof does not lead to the checkpoint's root")


def verify_consistency(m, n, old_root, new_root, proof):
    if m > n:
        raise VerifyError("the older tree is larger than the newer")
    if m == n:
        if proof or old_root != new_root:
            raise VerifyError("equal sizes with different roots or a proof")
        return
    if m == 0:
        if proof:
            raise VerifyError("a proof from the empty tree must be empty")
        return
    if not proof:
        raise VerifyError("the consistency proof is empty")
    if m & (m - 1) == 0:  # a power of two: the old root starts the path
        proof = [old_root] + list(proof)
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            raise VerifyError("the consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                fn, sn = to_set_bit(fn, sn)
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerifyError("the consistency proof is too short")
    if fr != old_root:
        raise VerifyError("the consistency proof does not lead to the older root")
    if sr != new_root:
        raise VerifyError("the consistency proof does not lead to the newer root")


def read(path):
    # newline="": the bytes as they are; a CRLF note is not the signed one.
    with open(path, encoding="utf-8", newline="") as f:
        return f.read()


def hashes(proof):
    return [base64.b64decode(h, validate=True) for h in proof["hashes"]]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="what", required=True)
    inc = sub.add_parser("inclusion")
    inc.add_argument("--entry", required=True)
    inc.add_argument("--proof", required=True)
    inc.add_argument("--checkpoint", required=True)
    inc.add_argument("--log-key", required=True)
    con = sub.add_parser("consistency")
    con.add_argument("--old", required=True)
    con.add_argument("--new", required=True)
    con.add_argument("--proof", required=True)
    con.add_argument("--log-key", required=True)
    cp = sub.add_parser("checkpoint")
    cp.add_argument("--checkpoint", required=True)
    cp.add_argument("--log-key", required=True)
    cp.add_argument("--witness", action="append", default=[])
    cp.add_argument("--require", type=int)
    a = ap.parse_args()
    key_text = read(a.log_key) if os.path.isfile(a.log_key) else a.log_key
    try:
        vkey = parse_vkey(key_text)
        if a.what == "checkpoint":
            note = read(a.checkpoint)
            size, _ = open_checkpoint(note, vkey)
            witnesses = [
                parse_vkey(read(w) if os.path.isfile(w) else w, b"\x04") for w in a.witness
            ]
            need = len(witnesses) if a.require is None else a.require
            signed = cosigners(note, witnesses)
            if len(signed) < need:
                raise VerifyError(f"{len(signed)} of the witnesses cosigned; {need} required")
            print(f"ok: the checkpoint of {size} entries, cosigned by {len(signed)} witnesses")
            return 0
        proof = json.loads(read(a.proof))
        if a.what == "inclusion":
            size, root = open_checkpoint(read(a.checkpoint), vkey)
            entry = json.loads(read(a.entry))
            data = entry_bytes(entry)
            if sha256(data).hex() != entry["hash"]:
                raise VerifyError("the entry does not match its own hash (edited)")
            if proof.get("format") != "symbolon-log-inclusion/1" or set(proof) != {
                "format", "index", "size", "hashes"
            }:
                raise VerifyError("not an inclusion proof")
            if proof["index"] != entry["seq"] - 1 or proof["size"] != size:
                raise VerifyError("the proof is for another entry or tree size")
            verify_inclusion(proof["index"], size, leaf_hash(data), hashes(proof), root)
            print(f"ok: entry {entry['seq']} is in the tree of {size} entries")
        else:
            m, old_root = open_checkpoint(read(a.old), vkey)
            n, new_root = open_checkpoint(read(a.new), vkey)
            if proof.get("format") != "symbolon-log-consistency/1" or set(proof) != {
                "format", "old", "new", "hashes"
            }:
                raise VerifyError("not a consistency proof")
            if (proof["old"], proof["new"]) != (m, n):
                raise VerifyError("the proof is for other tree sizes")
            verify_consistency(m, n, old_root, new_root, hashes(proof))
            print(f"ok: the tree of {n} entries extends the tree of {m}")
    except (VerifyError, ValueError, KeyError, TypeError, AttributeError, OverflowError,
            struct.error) as e:
        print(f"refused: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
