#!/usr/bin/env python3
"""Writes crates/symbolon/src/keys/weak/data/published-moduli.txt: SHA-256 of
the modulus (big-endian, no leading zeros) of every RSA key published as a
test key, whose private key anyone can therefore read:

- RFC 9500 §2.1 testRSA2048 (modulus below, from the RFC's private key);
- every RSA key in Project Wycheproof's test vectors (their directory is the
  argument; CI keeps them beside the repository under testdata/).

    scripts/published-moduli.py WYCHEPROOF_TESTVECTORS_DIR
"""

import glob
import hashlib
import json
import os
import sys

RFC9500_TEST_RSA_2048 = int(
    "B0F9E81943A7AE9892AADE17CA7C40F8744FED2F8148E6C8EAA27B7D001548FB"
    "5192AB28B56C5060B118CCD131E594874C6CA989B56C27296F09FB93A034DF32"
    "E97C6FF0998CFD8E6F42DDA58ACD1FA97986F144F3D154D67650175E6854B3A9"
    "52003BC06887B8455AC2B19F7B2F76504EBC98EC945571B07892150DDC6A74CA"
    "0FBCD35497CE81534DAF9418844B13AEA31F9D5A6B9557BBDF619EFD4E887F2D"
    "42B8DD8BC987EAE1BF89CAB85EE21E356305DF6C07A8838E3EF41C595DCCE43D"
    "AFC49123EF4D8ABBA93D3905E4028D7BA91484A27596E07B4B6ED992F077B524"
    "D3DCFE7DDD5549BE7CCE8DA035CFA0B3FB8F9E46F732B2A86B460165C08F5313",
    16,
)


def digest(n):
    return hashlib.sha256(n.to_bytes((n.bit_length() + 7) // 8, "big")).hexdigest()


def main():
    entries = {digest(RFC9500_TEST_RSA_2048): "RFC 9500 testRSA2048"}
    for path in sorted(glob.glob(os.path.join(sys.argv[1], "rsa_*.json"))):
        name = os.path.basename(path)
        for group in json.load(open(path)).get("testGroups", []):
            for key in ("publicKey", "privateKey"):
                value = group.get(key)
                if isinstance(value, dict) and "modulus" in value:
                    entries.setdefault(digest(int(value["modulus"], 16)), f"Wycheproof {name}")
    out = os.path.join(os.path.dirname(__file__), "..", "crates", "symbolon", "src", "keys",
                       "weak", "data", "published-moduli.txt")
    with open(out, "w") as f:
        f.write("# SHA-256 of the moduli of published test keys (scripts/published-moduli.py)\n")
        for d in sorted(entries):
            f.write(f"{d} {entries[d]}\n")


if __name__ == "__main__":
    main()
