#!/usr/bin/env python3
"""Writes a corpus of weak RSA keys, one per class symbolon refuses, built
independently of symbolon's own code (Python integers and pyca/cryptography),
the way each weakness arises. Used by crates/symbolon-cli/tests/weak_keys.rs.

    scripts/weak-key-corpus.py OUTDIR
    scripts/weak-key-corpus.py OUTDIR --shared-pairs N   (only N pairs of keys sharing a prime)
    scripts/weak-key-corpus.py OUTDIR --edge-cases       (keys that once slipped through)

OUTDIR/corpus.json lists the cases: name, the class symbolon must report,
whether only the deep effort finds it, the public key file and, where a
private key exists, a PKCS#10 request signed by it (proof of possession).
"""

import importlib.util
import json
import os
import secrets
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

E = 65537
SMALL_PRIMES = [p for p in range(3, 2000) if all(p % d for d in range(2, int(p**0.5) + 1))]


def is_probable_prime(n, rounds=40):
    if n < 2:
        return False
    for p in SMALL_PRIMES:
        if n % p == 0:
            return n == p
    d, s = n - 1, 0
    while d % 2 == 0:
        d, s = d // 2, s + 1
    for _ in range(rounds):
        a = secrets.randbelow(n - 3) + 2
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def next_prime(x):
    x |= 1
    while not is_probable_prime(x):
        x += 2
    return x


def random_prime(bits):
    while True:
        # The top two bits set, as RSA key generators do: p·q has 2·bits bits.
        x = secrets.randbits(bits) | (3 << (bits - 2)) | 1
        if (x - 1) % E and is_probable_prime(x):
            return x


def prime_in(low, high):
    """A random prime in [low, high)."""
    while True:
        x = next_prime(low + secrets.randbelow(high - low))
        if x < high and (x - 1) % E:
            return x


def cofactor_prime(p, bits=2048):
    """A prime q with p*q exactly `bits` bits."""
    return prime_in(-(-(1 << (bits - 1)) // p), (1 << bits) // p)


def private_key(p, q):
    n = p * q
    lam = (p - 1) * (q - 1) // __import__("math").gcd(p - 1, q - 1)
    d = pow(E, -1, lam)
    numbers = rsa.RSAPrivateNumbers(
        p, q, d, d % (p - 1), d % (q - 1), pow(q, -1, p), rsa.RSAPublicNumbers(E, n)
    )
    return numbers.private_key(unsafe_skip_rsa_key_validation=True)


def roca_prime(bits):
    m = 1
    for p in [2] + SMALL_PRIMES:
        if p > 167:
            break
        m *= p
    a = secrets.randbelow(2454106387091158800)
    residue = pow(65537, a, m)
    low, high = -(-(3 << (bits - 2)) // m), (1 << bits) // m
    while True:
        k = low + secrets.randbelow(high - low)
        candidate = k * m + residue
        if candidate >> (bits - 2) == 3 and (candidate - 1) % E and is_probable_prime(candidate):
            return candidate


def sparse_prime(bits, width=128):
    x = 3 << (bits - 2)
    for i in range(1, bits // width - 1):
        x += secrets.randbelow(16) << (width * i)
    return next_prime(x)


def write(out, name, klass, deep, p=None, q=None, n=None, e=E):
    entry = {"name": name, "class": klass, "deep": deep}
    if p is not None:
        key = private_key(p, q)
        public = key.public_key()
        entry["private"] = f"{name}.key.pem"
        with open(os.path.join(out, entry["private"]), "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
        csr = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"weak {name}")]))
            .sign(key, hashes.SHA256())
        )
        entry["csr"] = f"{name}.csr.pem"
        with open(os.path.join(out, entry["csr"]), "wb") as f:
            f.write(csr.public_bytes(serialization.Encoding.PEM))
    else:
        public = rsa.RSAPublicNumbers(e, n).public_key()
    entry["public"] = f"{name}.pub.pem"
    with open(os.path.join(out, entry["public"]), "wb") as f:
        f.write(
            public.public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
    return entry


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    cases = []
    if len(sys.argv) == 3 and sys.argv[2] == "--edge-cases":
        # A key refused for its huge exponent still shares its prime.
        s = random_prime(1024)
        cases.append(write(out, "huge-e", "exponent", False, n=s * random_prime(1024), e=(1 << 40) + 1))
        cases.append(write(out, "huge-e-sibling", "shared-prime", False, s, random_prime(1024)))
        # One modulus under two exponents is two keys sharing both primes.
        p, q = random_prime(1024), random_prime(1024)
        cases.append(write(out, "same-modulus", None, False, p, q))
        cases.append(write(out, "same-modulus-other-e", "shared-prime", False, n=p * q, e=65539))
        # Broken keys with the same small factor share nothing worth a report.
        for i in range(3):
            cases.append(write(out, f"factor-65521-{i}", "small-factor", False, n=65521 * random_prime(2032)))
        with open(os.path.join(out, "corpus.json"), "w") as f:
            json.dump(cases, f, indent=1)
        return
    if len(sys.argv) == 4 and sys.argv[2] == "--shared-pairs":
        for i in range(int(sys.argv[3])):
            shared = random_prime(1024)
            cases.append(write(out, f"pair{i}-a", None, False, shared, random_prime(1024)))
            cases.append(write(out, f"pair{i}-b", "shared-prime", False, shared, random_prime(1024)))
        with open(os.path.join(out, "corpus.json"), "w") as f:
            json.dump(cases, f, indent=1)
        return
    for name, small in [("factor-16-bit", 65521), ("factor-31337", 31337)]:
        cases.append(write(out, name, "small-factor", False, small, cofactor_prime(small)))
    for name, small in [("factor-mersenne-31", (1 << 31) - 1), ("factor-32-bit", random_prime(32))]:
        cases.append(write(out, name, "small-factor", True, small, cofactor_prime(small)))
    p = random_prime(1024)
    cases.append(write(out, "fermat", "fermat", False, p, next_prime(p + (1 << 100))))
    cases.append(write(out, "square", "prime-power", False, n=random_prime(1024) ** 2))
    cases.append(write(out, "prime-modulus", "prime-modulus", False, n=random_prime(2048)))
    cases.append(write(out, "roca", "roca", False, roca_prime(1024), roca_prime(1024)))
    cases.append(write(out, "patterned", "patterned", False, sparse_prime(1024), sparse_prime(1024)))
    # RFC 9500's testRSA2048, whose private key the RFC prints.
    spec = importlib.util.spec_from_file_location(
        "published_moduli", os.path.join(os.path.dirname(__file__), "published-moduli.py"))
    published = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(published)
    cases.append(write(out, "rfc9500", "published", False, n=published.RFC9500_TEST_RSA_2048))
    # Two keys sharing a prime: the first is good on its own.
    shared = random_prime(1024)
    cases.append(write(out, "shared-first", None, False, shared, random_prime(1024)))
    cases.append(write(out, "shared-second", "shared-prime", False, shared, random_prime(1024)))
    with open(os.path.join(out, "corpus.json"), "w") as f:
        json.dump(cases, f, indent=1)


if __name__ == "__main__":
    main()
