"""C2SP signed notes, checkpoints and cosignatures (envtrust.ledger.note).

Known-answer vectors, all checked byte for byte:

- golang.org/x/mod ``sumdb/note/note_test.go`` and the package doc of ``note.go``: the PeterNeumann signer and
  verifier keys, the signed note, the EnochRoot second signature, the key manglings and bad notes of
  ``TestNewVerifier``, ``TestNewSigner`` and ``TestOpen``;
- the worked example of c2sp.org/signed-note (``example.com/foo``; C2SP commit d4c16da5, as quoted by other
  implementations' tests -- the stored copy of the spec predates the example);
- c2sp.org/tlog-checkpoint and tlog-cosignature: the example checkpoint, the cosigned message for
  ``time 1679315147`` and the example witness line whose timestamp is that time;
- transparency-dev/formats ``note/note_cosigv1_test.go``: the cosignature timestamp vector and the type 0x04
  verifier key of the witness remora.n621.de;
- a real checkpoint of the log arche2025h1.staging.ct.transparency.dev cosigned by remora.n621.de (quoted in
  a third-party test suite): our code verifies both the log's Ed25519 signature and the witness cosignature.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from envtrust.ledger.note import (
    MAX_SIGNATURES,
    MAX_TIMESTAMP,
    MAX_TREE_SIZE,
    Checkpoint,
    CosignatureVerifier,
    NoteError,
    NoteSignature,
    NoteVerifier,
    Signer,
    Verifier,
    add_signatures,
    cosign,
    cosignature_key_hash,
    cosignature_message,
    cosignature_timestamp,
    decode_note,
    ed25519_key_hash,
    open_checkpoint,
    parse_note,
    parse_vkey,
    sign_checkpoint,
    sign_note,
    verify_cosignature,
    verify_note,
)

EM = "\u2014"

# golang.org/x/mod/sumdb/note
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
GO_TEXT = (
    "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
)
PETER_SIG = f"{EM} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
ENOCH_SIG = f"{EM} EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"
GO_NOTE = GO_TEXT + "\n" + PETER_SIG

# c2sp.org/signed-note example
SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_NOTE = (
    f"This is an example message.\n\n{EM} example.com/foo "
    "Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n"
)

# c2sp.org/tlog-checkpoint and tlog-cosignature examples
SPEC_CHECKPOINT = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
SPEC_WITNESS_LINE = (
    f"{EM} witness.example.com/w1 "
    "jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA=="
)

# a real checkpoint: log arche2025h1.staging.ct.transparency.dev, witness remora.n621.de among others
ARCHE_VKEY = "arche2025h1.staging.ct.transparency.dev+ba2f06c0+AU0vHmlGCS/PdN8b2OaGmKprLI8HKM+dJ472xgFYh15f"
REMORA_VKEY = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"
ARCHE_NOTE = f"""\
arche2025h1.staging.ct.transparency.dev
1432088532
U7WM79jrzyhGZ5/GUBTpM7NzwdyfFx61t3RovgcC4Ro=

{EM} arche2025h1.staging.ct.transparency.dev zTM8sQAAAZ5W0WdjBAMARjBEAiBjW5IQf9pvsYLfQFX6hoGREPMHbdQ3urbllzalApkptQIgIpwtEroeW2BXaHAI4kJXFbon5Ch9MNL5zRNZ55lvGt0=
{EM} arche2025h1.staging.ct.transparency.dev ui8GwCF1+kWqZrxGdhj4aX3gcw7XUlXQQabg/27lefwhUkzbC3NygNI75MdhL1bfTW9g8Ei59RA23oHP7Ry1k3ZFWwQ=
{EM} transparency.dev/DEV:witness-little-garden 2AQqhwAAAABqEiEgzgFIqqhbUoDwjMWE6UP8nd8/KYTzwZ2rhIgcqoXHAwVkjZr4AscylP3v7sEodkRAErumC2q44vdgJY096st5BQ==
{EM} witness1.smartit.nu/witness1 pIyCDwAAAABqEiEghIp82KWebrw7/oHQwlTAm3g2RKS4+eebl8eO0WH+/iEcxZ75W3u5hNI7TOQtmJbqmNWVuE0tgh0XwzdZsDsUAQ==
{EM} remora.n621.de 2net5wAAAABqEiEgPlfF3V06o0Y+fHM+J5J9s27wgxxcOVSpZ/2g/KSiXCg9DEZI+aVCIobWX9sXTynk5XeU/zZ0WBxtqB0DrAWfBw==
{EM} witness.stagemole.eu Z/euoAAAAABqEiEgw0i+7g2ENfDAWHmtRzCfKTHSDwYDJA2NmKeGi9Y8FtEyOUvVr+AJmIY/2TUFucgKi7lI7cUiOvKFYe/TmN9DAg==
"""

ROOT = hashlib.sha256(b"root").digest()
LOG = Signer("example.com/log", bytes(range(32)))
WITNESS = Signer("witness.example/w1", bytes(range(32, 64)))


def _sig_line(name: str, payload: bytes) -> str:
    return f"{EM} {name} {base64.b64encode(payload).decode()}\n"


def _signed_checkpoint(size: int = 10) -> str:
    return sign_checkpoint(Checkpoint(LOG.name, size, ROOT), LOG)


# --- keys ----------------------------------------------------------------------------------------------


def test_go_signer_key_round_trips_and_matches_verifier_key() -> None:
    signer = Signer.from_skey(GO_SKEY)
    assert signer.name == "PeterNeumann"
    assert signer.key_hash == bytes.fromhex("c74f20a3")
    assert signer.skey() == GO_SKEY
    assert signer.verifier().vkey() == GO_VKEY
    verifier = Verifier.from_vkey(GO_VKEY)
    assert verifier == signer.verifier()
    assert verifier.vkey() == GO_VKEY
    assert verifier.key_hash == ed25519_key_hash(verifier.name, verifier.public_key)


def test_key_hash_is_sha256_of_name_newline_type_key() -> None:
    v = Verifier.from_vkey(SPEC_VKEY)
    assert v.key_hash == hashlib.sha256(b"example.com/foo\n\x01" + v.public_key).digest()[:4]
    assert v.key_hash.hex() == "530d903a"


def test_go_verifier_key_manglings_are_rejected() -> None:
    # TestNewVerifier: every proper substring and every single-character increment must fail
    Verifier.from_vkey(GO_VKEY)
    for i in range(len(GO_VKEY) + 1):
        for j in range(i + 1, len(GO_VKEY) + 1):
            if (i, j) != (0, len(GO_VKEY)):
                with pytest.raises(NoteError):
                    Verifier.from_vkey(GO_VKEY[i:j])
    for i in range(len(GO_VKEY)):
        mangled = GO_VKEY[:i] + chr(ord(GO_VKEY[i]) + 1) + GO_VKEY[i + 1 :]
        with pytest.raises(NoteError):
            Verifier.from_vkey(mangled)


def _vkey_with_adjusted_hash(name: str, typed_key: bytes) -> str:
    key_hash = hashlib.sha256(name.encode() + b"\n" + typed_key).digest()[:4]
    return f"{name}+{key_hash.hex()}+{base64.b64encode(typed_key).decode()}"


def test_go_verifier_keys_with_adjusted_key_hash_fail_for_the_right_reason() -> None:
    # Go's wrong-length key ends in non-canonical base64 ("...BADKEY=="), which is refused before its length
    with pytest.raises(NoteError, match="canonical"):
        Verifier.from_vkey("PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==")
    peter = Verifier.from_vkey(GO_VKEY)
    for typed in (b"\x01" + peter.public_key + b"\x00", b"\x01" + peter.public_key[:31]):
        with pytest.raises(NoteError, match="expected 32"):
            Verifier.from_vkey(_vkey_with_adjusted_hash("PeterNeumann", typed))
    with pytest.raises(NoteError, match="type 0x65"):  # unknown algorithm, with adjusted key hash
        Verifier.from_vkey("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")


def test_go_signer_key_manglings_are_rejected() -> None:
    # TestNewSigner
    for i in range(len(GO_SKEY) + 1):
        for j in range(i + 1, len(GO_SKEY) + 1):
            if (i, j) != (0, len(GO_SKEY)):
                with pytest.raises(NoteError):
                    Signer.from_skey(GO_SKEY[i:j])
    for i in range(len(GO_SKEY)):
        mangled = GO_SKEY[:i] + chr(ord(GO_SKEY[i]) + 1) + GO_SKEY[i + 1 :]
        with pytest.raises(NoteError):
            Signer.from_skey(mangled)


def test_generated_key_round_trips() -> None:
    signer = Signer.generate("EnochRoot")
    assert Signer.from_skey(signer.skey()) == signer
    verifier = Verifier.from_vkey(signer.verifier().vkey())
    assert verifier == signer.verifier()
    assert verifier.key_hash == signer.key_hash
    # testSignerAndVerifier
    sig = signer.sign(b"hi")
    assert len(sig) == 64
    assert verifier.verify(b"hi", sig)
    assert not verifier.verify(b"hi", bytes([sig[0] ^ 1]) + sig[1:])
    assert not verifier.verify(b"ii", sig)
    assert not verifier.verify(b"hi", sig[:-1])


def test_signer_repr_hides_the_seed() -> None:
    assert LOG.seed.hex() not in repr(LOG)
    assert repr(LOG.seed) not in repr(LOG)


@pytest.mark.parametrize(
    "name", ["", "a+b", "a b", "a\tb", "a\nb", "a\u00a0b", "a\u3000b", "a\u2028b", "a\x01b", "\ud800"]
)
def test_bad_key_names_are_rejected(name: str) -> None:
    with pytest.raises(NoteError):
        Signer(name, bytes(32))
    with pytest.raises(NoteError):
        Verifier(name, LOG.public_key)


def test_bad_key_material_is_rejected() -> None:
    with pytest.raises(NoteError):
        Signer("a", bytes(31))
    with pytest.raises(NoteError):
        Verifier("a", bytes(33))
    with pytest.raises(NoteError):
        Verifier.from_vkey(GO_VKEY + "\n")  # a key file's newline must be stripped by the caller
    with pytest.raises(NoteError):
        Verifier.from_vkey(12)  # type: ignore[arg-type]


def test_parse_vkey_dispatches_on_type_and_each_class_keeps_its_type() -> None:
    assert isinstance(parse_vkey(GO_VKEY), Verifier)
    remora = parse_vkey(REMORA_VKEY)
    assert isinstance(remora, CosignatureVerifier)
    assert remora.vkey() == REMORA_VKEY
    with pytest.raises(NoteError, match="type 0x04"):
        Verifier.from_vkey(REMORA_VKEY)
    with pytest.raises(NoteError, match="type 0x01"):
        CosignatureVerifier.from_vkey(GO_VKEY)


# --- signed notes --------------------------------------------------------------------------------------


def test_go_vector_signs_byte_for_byte() -> None:
    assert sign_note(GO_TEXT, [Signer.from_skey(GO_SKEY)]) == GO_NOTE


def test_go_vector_verifies() -> None:
    peter = Verifier.from_vkey(GO_VKEY)
    assert verify_note(GO_NOTE, [peter]) == (GO_TEXT, [peter])


def test_spec_example_verifies() -> None:
    foo = Verifier.from_vkey(SPEC_VKEY)
    assert verify_note(SPEC_NOTE, [foo]) == ("This is an example message.\n", [foo])


def test_go_open_one_verified_one_unknown() -> None:
    peter, enoch = Verifier.from_vkey(GO_VKEY), Verifier.from_vkey(ENOCH_VKEY)
    note = GO_TEXT + "\n" + PETER_SIG + ENOCH_SIG
    assert verify_note(note, [peter]) == (GO_TEXT, [peter])
    assert verify_note(note, [enoch]) == (GO_TEXT, [enoch])
    assert verify_note(note, [peter, enoch]) == (GO_TEXT, [peter, enoch])
    with pytest.raises(NoteError, match="no verifiable signatures"):
        verify_note(note, [])
    text, sigs = parse_note(note)
    assert text == GO_TEXT
    assert [(s.name, s.key_hash.hex()) for s in sigs] == [
        ("PeterNeumann", "c74f20a3"),
        ("EnochRoot", "af0cfe78"),
    ]
    assert "".join(s.line() for s in sigs) == PETER_SIG + ENOCH_SIG


def test_go_open_invalid_signature_of_known_key() -> None:
    peter = Verifier.from_vkey(GO_VKEY)
    with pytest.raises(NoteError, match="invalid signature for key PeterNeumann\\+c74f20a3"):
        verify_note(GO_TEXT + "\n" + PETER_SIG[:60] + "ABCD" + PETER_SIG[60:], [peter])


def test_go_open_duplicates_and_bad_unknown_lines() -> None:
    peter = Verifier.from_vkey(GO_VKEY)
    enoch_abcd = ENOCH_SIG[:60] + "ABCD" + ENOCH_SIG[60:]
    note = GO_TEXT + "\n" + PETER_SIG + PETER_SIG + ENOCH_SIG + ENOCH_SIG + enoch_abcd
    assert verify_note(note, [peter]) == (GO_TEXT, [peter])


def test_forged_second_line_of_a_known_key_is_not_skipped() -> None:
    # stricter than Go, which skips repeated lines of a key it has verified once
    peter = Verifier.from_vkey(GO_VKEY)
    with pytest.raises(NoteError, match="invalid signature"):
        verify_note(GO_TEXT + "\n" + PETER_SIG + PETER_SIG[:60] + "ABCD" + PETER_SIG[60:], [peter])


@pytest.mark.parametrize(
    "note",
    [
        GO_TEXT,  # no signatures
        GO_TEXT + "\n",  # blank line but no signatures
        GO_TEXT + "\n" + PETER_SIG[:-1],  # missing final newline
        "\x01" + GO_TEXT + "\n" + PETER_SIG,  # control character
        "\r" + GO_TEXT + "\n" + PETER_SIG,
        GO_TEXT.replace("\n", "\r\n") + "\r\n" + PETER_SIG,
        "\t" + GO_TEXT + "\n" + PETER_SIG,
        "\ud800" + GO_TEXT + "\n" + PETER_SIG,  # not UTF-8
        GO_TEXT
        + "\n"
        + f"{EM} Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=",
        GO_TEXT + "\n" + PETER_SIG + "Unexpected line.\n",  # garbage after the signatures
        GO_TEXT + "\n" + PETER_SIG.replace(EM, "-"),  # hyphen, not em dash
        GO_TEXT + "\n" + PETER_SIG.replace(f"{EM} ", EM),  # no space after the dash
        GO_TEXT + "\n" + f"{EM} PeterNeumann\n",  # no signature
        GO_TEXT + "\n" + f"{EM} PeterNeumann \n",  # empty signature
        GO_TEXT + "\n" + PETER_SIG.replace("AM=", "AN="),  # non-canonical base64
        GO_TEXT + "\n" + PETER_SIG.replace("=\n", "\n"),  # missing padding
        GO_TEXT + "\n" + _sig_line("PeterNeumann", bytes.fromhex("c74f20a3")),  # key ID but no signature
        GO_TEXT + "\n" + PETER_SIG + "\n",  # trailing blank line
        GO_TEXT + "\n" + PETER_SIG * (MAX_SIGNATURES + 1),  # too many signatures
    ],
)
def test_malformed_notes_are_rejected(note: str) -> None:
    with pytest.raises(NoteError):
        parse_note(note)
    with pytest.raises(NoteError):
        verify_note(note, [Verifier.from_vkey(GO_VKEY)])


def test_signature_limit_is_at_least_what_the_spec_requires() -> None:
    signers = [Signer(f"k{i}", bytes([i]) * 32) for i in range(16)]
    note = sign_note("x\n", signers)
    verifiers = [s.verifier() for s in signers]
    assert verify_note(note, verifiers) == ("x\n", verifiers)
    verify_note(GO_TEXT + "\n" + PETER_SIG * MAX_SIGNATURES, [Verifier.from_vkey(GO_VKEY)])


def test_tampered_text_signature_and_wrong_key() -> None:
    note = sign_note("hello\nworld\n", [LOG])
    v = LOG.verifier()
    assert verify_note(note, [v]) == ("hello\nworld\n", [v])
    with pytest.raises(NoteError, match="invalid signature"):
        verify_note(note.replace("world", "w0rld"), [v])
    _, [sig] = parse_note(note)
    forged = NoteSignature(sig.name, sig.key_hash, bytes([sig.signature[0] ^ 1]) + sig.signature[1:])
    with pytest.raises(NoteError, match="invalid signature"):
        verify_note("hello\nworld\n\n" + forged.line(), [v])
    with pytest.raises(NoteError, match="no verifiable signatures"):
        verify_note(note, [WITNESS.verifier()])


def test_a_second_key_with_the_same_name_is_a_different_key() -> None:
    a = Signer("same.example/key", bytes([1]) * 32)
    b = Signer("same.example/key", bytes([2]) * 32)
    assert a.key_hash != b.key_hash
    only_a = sign_note("t\n", [a])
    with pytest.raises(NoteError, match="no verifiable signatures"):
        verify_note(only_a, [b.verifier()])  # same name, other key ID: ignored, so nothing verifies
    assert verify_note(only_a, [a.verifier(), b.verifier()]) == ("t\n", [a.verifier()])
    both = sign_note("t\n", [a, b])
    assert verify_note(both, [a.verifier()]) == ("t\n", [a.verifier()])


def test_two_different_verifiers_for_one_key_id_are_refused() -> None:
    @dataclass(frozen=True)
    class Impostor:  # a key whose name and key ID collide with LOG's (impossible to make for real cheaply)
        name: str
        key_hash: bytes

        def verify(self, message: bytes, signature: bytes) -> bool:
            return True

    note = sign_note("t\n", [LOG])
    verifiers: list[NoteVerifier] = [LOG.verifier(), Impostor(LOG.name, LOG.key_hash)]
    with pytest.raises(NoteError, match="two different verifiers"):
        verify_note(note, verifiers)
    assert verify_note(note, [LOG.verifier(), LOG.verifier()]) == ("t\n", [LOG.verifier()])


@pytest.mark.parametrize("text", ["", "no newline", "a\x00b\n", "\ud800\n", "tab\there\n"])
def test_sign_note_rejects_bad_text(text: str) -> None:
    with pytest.raises(NoteError):
        sign_note(text, [LOG])


def test_sign_note_needs_signers_and_text_may_hold_blank_lines() -> None:
    with pytest.raises(NoteError):
        sign_note("t\n", [])
    text = "para one\n\npara two\n\n"
    assert verify_note(sign_note(text, [LOG]), [LOG.verifier()])[0] == text
    assert verify_note(sign_note("\n", [LOG]), [LOG.verifier()])[0] == "\n"


def test_add_signatures_appends_and_replaces_the_same_key() -> None:
    enoch = Signer.generate("EnochRoot")
    both = add_signatures(GO_NOTE, [enoch])
    assert both.startswith(GO_NOTE)
    peter = Verifier.from_vkey(GO_VKEY)
    assert verify_note(both, [peter, enoch.verifier()]) == (GO_TEXT, [peter, enoch.verifier()])
    assert add_signatures(both, [enoch]) == both
    # Go's TestSign: an existing (bad) line of the signing key is replaced
    stale = GO_TEXT + "\n" + _sig_line("PeterNeumann", bytes.fromhex("c74f20a3") + b"BADSIGN")
    assert add_signatures(stale, [Signer.from_skey(GO_SKEY)]) == GO_NOTE
    with pytest.raises(NoteError):
        add_signatures(GO_NOTE, [])


def test_non_text_input_raises_note_error() -> None:
    with pytest.raises(NoteError):
        parse_note(GO_NOTE.encode())  # type: ignore[arg-type]
    with pytest.raises(NoteError):
        Checkpoint.parse(None)  # type: ignore[arg-type]
    assert decode_note(GO_NOTE.encode()) == GO_NOTE
    with pytest.raises(NoteError, match="UTF-8"):
        decode_note(b"\xff" + GO_NOTE.encode())  # Go's "\xff" bad message


# --- checkpoints ---------------------------------------------------------------------------------------


def test_spec_checkpoint_parses_and_formats() -> None:
    cp = Checkpoint.parse(SPEC_CHECKPOINT)
    assert cp.origin == "example.com/behind-the-sofa"
    assert cp.size == 20852163
    assert cp.root_hash == base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
    assert cp.extensions == ()
    assert cp.body() == SPEC_CHECKPOINT


def test_checkpoint_with_extensions_round_trips() -> None:
    cp = Checkpoint("o", 0, ROOT, ("ext one", "— two"))
    assert cp.body() == f"o\n0\n{base64.b64encode(ROOT).decode()}\next one\n— two\n"
    assert Checkpoint.parse(cp.body()) == cp
    assert Checkpoint.parse(Checkpoint("o", MAX_TREE_SIZE, ROOT).body()).size == MAX_TREE_SIZE


ROOT_B64 = base64.b64encode(ROOT).decode()
_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


@pytest.mark.parametrize(
    "text",
    [
        f"o\n012\n{ROOT_B64}\n",  # leading zero
        f"o\n00\n{ROOT_B64}\n",
        f"o\n-1\n{ROOT_B64}\n",
        f"o\n+1\n{ROOT_B64}\n",
        f"o\n 1\n{ROOT_B64}\n",
        f"o\n1 \n{ROOT_B64}\n",
        f"o\n1_000\n{ROOT_B64}\n",
        f"o\n0x10\n{ROOT_B64}\n",
        f"o\n\u0663\n{ROOT_B64}\n",  # Arabic-Indic digit three, which int() accepts
        f"o\n1.5\n{ROOT_B64}\n",
        f"o\n\n{ROOT_B64}\n",
        f"o\n{MAX_TREE_SIZE + 1}\n{ROOT_B64}\n",  # does not fit in 64 bits
        f"o\n1\n{base64.b64encode(ROOT[:31]).decode()}\n",  # 31-byte root
        f"o\n1\n{base64.b64encode(ROOT + b'x').decode()}\n",  # 33-byte root
        f"o\n1\n{ROOT.hex()}\n",  # hex, not base64
        f"o\n1\n{ROOT_B64[:-2]}{_B64[_B64.index(ROOT_B64[-2]) | 1]}=\n",  # non-canonical base64
        f"o\n1\n{ROOT_B64.rstrip('=')}\n",  # unpadded
        "o\n1\n\n",  # empty root
        f"\n1\n{ROOT_B64}\n",  # empty origin
        "o\n1\n",  # two lines
        f"o\n1\n{ROOT_B64}",  # no final newline
        f"o\n1\n{ROOT_B64}\n\next\n",  # empty extension line
        f"o\n1\n{ROOT_B64}\next\n\n",  # trailing empty line
        f"o\n1\n{ROOT_B64}\nbad\x07ext\n",  # control character
        f"o\r\n1\r\n{ROOT_B64}\r\n",  # CRLF
        "",
    ],
)
def test_bad_checkpoints_are_rejected(text: str) -> None:
    with pytest.raises(NoteError):
        Checkpoint.parse(text)


def test_checkpoint_constructor_validates() -> None:
    bads: list[Callable[[], object]] = [
        lambda: Checkpoint("", 1, ROOT),
        lambda: Checkpoint("a\nb", 1, ROOT),
        lambda: Checkpoint("o", -1, ROOT),
        lambda: Checkpoint("o", MAX_TREE_SIZE + 1, ROOT),
        lambda: Checkpoint("o", True, ROOT),
        lambda: Checkpoint("o", 1, ROOT[:31]),
        lambda: Checkpoint("o", 1, ROOT, ("",)),
        lambda: Checkpoint("o", 1, ROOT, ("a\nb",)),
        lambda: Checkpoint("o", 1, ROOT, "ext"),  # type: ignore[arg-type]
    ]
    for bad in bads:
        with pytest.raises(NoteError):
            bad()


def test_sign_and_open_checkpoint() -> None:
    cp = Checkpoint(LOG.name, 42, ROOT, ("ext",))
    note = sign_checkpoint(cp, LOG)
    assert note.startswith(cp.body() + "\n")
    assert open_checkpoint(note, LOG.verifier()) == cp
    assert open_checkpoint(note, LOG.verifier(), origin=LOG.name) == cp
    with pytest.raises(NoteError, match="origin"):
        open_checkpoint(note, LOG.verifier(), origin="other.example/log")
    with pytest.raises(NoteError):
        open_checkpoint(note, WITNESS.verifier())
    with pytest.raises(NoteError, match="invalid signature"):
        open_checkpoint(note.replace("\n42\n", "\n43\n"), LOG.verifier())
    with pytest.raises(NoteError, match="differs from the checkpoint origin"):
        sign_checkpoint(Checkpoint("other.example/log", 1, ROOT), LOG)
    with pytest.raises(NoteError):  # signed, but not a checkpoint
        open_checkpoint(sign_note("just text\n", [LOG]), LOG.verifier())


def test_real_cosigned_checkpoint_verifies() -> None:
    log = Verifier.from_vkey(ARCHE_VKEY)
    cp = open_checkpoint(ARCHE_NOTE, log, origin="arche2025h1.staging.ct.transparency.dev")
    assert cp.size == 1432088532
    assert verify_cosignature(ARCHE_NOTE, CosignatureVerifier.from_vkey(REMORA_VKEY)) == 0x6A122120
    assert verify_note(ARCHE_NOTE, [log, parse_vkey(REMORA_VKEY)])[1] == [log, parse_vkey(REMORA_VKEY)]
    clobbered = ARCHE_NOTE.replace("\n1432088532\n", "\n42\n")
    with pytest.raises(NoteError):
        open_checkpoint(clobbered, log)
    with pytest.raises(NoteError):
        verify_cosignature(clobbered, CosignatureVerifier.from_vkey(REMORA_VKEY))


# --- cosignatures --------------------------------------------------------------------------------------


def test_spec_cosigned_message_and_example_timestamp() -> None:
    assert cosignature_message(SPEC_CHECKPOINT, 1679315147) == (
        b"cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\n"
        b"CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    )
    _, [line] = parse_note(SPEC_CHECKPOINT + "\n" + SPEC_WITNESS_LINE + "\n")
    assert cosignature_timestamp(line) == 1679315147


def test_transparency_dev_timestamp_vector() -> None:
    raw = base64.b64decode(
        "ZGhGuQAAAABm/qTPeyKXD+R2rzyQsxPiP8mXum7qq/iF0u4vanlqJyocWODBt97w9uL+8qT7S5gxEHWWOworDcFiEBYJXORmnFBOBA=="
    )
    assert cosignature_timestamp(NoteSignature("w", raw[:4], raw[4:])) == 1727964367
    plain = base64.b64decode(
        "eQjRQm6eSKzFoiYalgwCPXu2y3ijtg68is9M46JKxuZB+dRfTmeQeDBoXnvxZx2ugnkyV+MUMLXpWs1hPb/W/4xkNQY="
    )
    with pytest.raises(NoteError):  # "wrong type of signature": a plain Ed25519 signature
        cosignature_timestamp(NoteSignature("w", plain[:4], plain[4:]))


def test_cosignature_key_hash_uses_type_4() -> None:
    kh = cosignature_key_hash(WITNESS.name, WITNESS.public_key)
    assert kh == hashlib.sha256(WITNESS.name.encode() + b"\n\x04" + WITNESS.public_key).digest()[:4]
    assert kh != WITNESS.key_hash
    assert WITNESS.cosignature_verifier().key_hash == kh
    assert WITNESS.verifier().cosignature_verifier() == WITNESS.cosignature_verifier()
    assert (
        CosignatureVerifier.from_vkey(WITNESS.cosignature_verifier().vkey()) == WITNESS.cosignature_verifier()
    )
    assert cosignature_key_hash("remora.n621.de", parse_vkey(REMORA_VKEY).public_key).hex() == "da77ade7"


def test_cosign_round_trip_and_line_layout() -> None:
    note = _signed_checkpoint()
    cosigned = cosign(note, WITNESS, 1_700_000_000)
    assert cosigned.startswith(note)
    assert verify_cosignature(cosigned, WITNESS.verifier()) == 1_700_000_000
    assert verify_cosignature(cosigned, WITNESS.cosignature_verifier(), now=1_700_000_000) == 1_700_000_000
    assert open_checkpoint(cosigned, LOG.verifier()).size == 10
    text, verified = verify_note(cosigned, [LOG.verifier(), WITNESS.cosignature_verifier()])
    assert verified == [LOG.verifier(), WITNESS.cosignature_verifier()]
    _, [_, line] = parse_note(cosigned)
    assert line.name == WITNESS.name
    assert line.key_hash == cosignature_key_hash(WITNESS.name, WITNESS.public_key)
    assert len(line.signature) == 8 + 64
    assert line.signature[:8] == (1_700_000_000).to_bytes(8, "big")
    assert WITNESS.verifier().verify(cosignature_message(text, 1_700_000_000), line.signature[8:])
    # the witness's plain key does not verify its cosignature line (different key ID): ignored
    with pytest.raises(NoteError, match="no verifiable signatures"):
        verify_note(cosign(sign_note(text, [Signer.generate("x")]), WITNESS, 1), [WITNESS.verifier()])


def test_cosign_replaces_the_witness_line() -> None:
    once = cosign(_signed_checkpoint(), WITNESS, 100)
    twice = cosign(once, WITNESS, 200)
    assert len(parse_note(twice)[1]) == 2
    assert verify_cosignature(twice, WITNESS.verifier()) == 200
    other = Signer("witness.example/w2", bytes([9]) * 32)
    both = cosign(twice, other, 300)
    assert verify_cosignature(both, WITNESS.verifier()) == 200
    assert verify_cosignature(both, other.verifier()) == 300


def test_tampered_cosignatures_are_rejected() -> None:
    cosigned = cosign(_signed_checkpoint(), WITNESS, 1_700_000_000)
    text, [log_line, line] = parse_note(cosigned)
    later = NoteSignature(line.name, line.key_hash, (1_700_000_001).to_bytes(8, "big") + line.signature[8:])
    with pytest.raises(NoteError, match="invalid cosignature"):
        verify_cosignature(text + "\n" + log_line.line() + later.line(), WITNESS.verifier())
    with pytest.raises(NoteError, match="invalid cosignature"):  # body changed (log line still "there")
        verify_cosignature(cosigned.replace("\n10\n", "\n11\n"), WITNESS.verifier())
    flipped = NoteSignature(line.name, line.key_hash, line.signature[:-1] + bytes([line.signature[-1] ^ 1]))
    with pytest.raises(NoteError, match="invalid cosignature"):
        verify_cosignature(text + "\n" + log_line.line() + line.line() + flipped.line(), WITNESS.verifier())
    with pytest.raises(NoteError, match="no cosignature"):
        verify_cosignature(_signed_checkpoint(), WITNESS.verifier())
    with pytest.raises(NoteError, match="no cosignature"):
        verify_cosignature(cosigned, Signer("witness.example/w1", bytes(32)).verifier())
    with pytest.raises(NoteError, match="after"):
        verify_cosignature(cosigned, WITNESS.verifier(), now=1_699_999_999)
    big = NoteSignature(line.name, line.key_hash, (2**63).to_bytes(8, "big") + line.signature[8:])
    with pytest.raises(NoteError):
        verify_cosignature(text + "\n" + big.line(), WITNESS.verifier())


@pytest.mark.parametrize("timestamp", [-1, 2**63, True, 1.5])
def test_cosign_rejects_bad_timestamps(timestamp: object) -> None:
    with pytest.raises(NoteError):
        cosign(_signed_checkpoint(), WITNESS, timestamp)  # type: ignore[arg-type]


def test_cosign_timestamp_bounds_and_non_checkpoints() -> None:
    for ts in (0, MAX_TIMESTAMP):
        assert verify_cosignature(cosign(_signed_checkpoint(), WITNESS, ts), WITNESS.verifier()) == ts
    not_checkpoint = sign_note("just\ntext\n", [LOG])
    with pytest.raises(NoteError):
        cosign(not_checkpoint, WITNESS, 1)
    with pytest.raises(NoteError):
        verify_cosignature(not_checkpoint, WITNESS.verifier())


# --- properties ----------------------------------------------------------------------------------------

_LINE_CHARS = st.characters(codec="utf-8", min_codepoint=0x20)  # includes U+0085, U+2028
_NAME_CHARS = st.characters(
    codec="utf-8",
    min_codepoint=0x21,
    exclude_characters="+\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000",
)


@settings(max_examples=60)
@given(
    origin=st.text(_LINE_CHARS, min_size=1, max_size=30),
    size=st.integers(0, MAX_TREE_SIZE),
    root=st.binary(min_size=32, max_size=32),
    extensions=st.lists(st.text(_LINE_CHARS, min_size=1, max_size=20), max_size=3),
)
def test_checkpoint_body_round_trips(origin: str, size: int, root: bytes, extensions: list[str]) -> None:
    cp = Checkpoint(origin, size, root, tuple(extensions))
    assert Checkpoint.parse(cp.body()) == cp


@settings(max_examples=40)
@given(
    origin=st.text(_NAME_CHARS, min_size=1, max_size=30),
    size=st.integers(0, MAX_TREE_SIZE),
    root=st.binary(min_size=32, max_size=32),
    timestamp=st.integers(0, MAX_TIMESTAMP),
)
def test_signed_and_cosigned_checkpoint_round_trips(
    origin: str, size: int, root: bytes, timestamp: int
) -> None:
    log = Signer(origin, bytes(32))
    cp = Checkpoint(origin, size, root)
    note = cosign(sign_checkpoint(cp, log), WITNESS, timestamp)
    assert open_checkpoint(note, log.verifier(), origin=origin) == cp
    assert verify_cosignature(note, WITNESS.verifier()) == timestamp
    assert Verifier.from_vkey(log.verifier().vkey()) == log.verifier()
    assert Signer.from_skey(log.skey()) == log


@settings(max_examples=40)
@given(text=st.text(st.one_of(_LINE_CHARS, st.just("\n")), max_size=60).map(lambda t: t + "\n"))
def test_any_valid_text_signs_and_verifies(text: str) -> None:
    assert verify_note(sign_note(text, [LOG]), [LOG.verifier()]) == (text, [LOG.verifier()])


@settings(max_examples=200)
@given(
    junk=st.one_of(
        st.text(max_size=80),
        st.text(st.sampled_from(f"+{EM} \n=aA0/PRIVATEKY\x01"), max_size=80),
        st.sampled_from([GO_NOTE, GO_VKEY, GO_SKEY, SPEC_CHECKPOINT]).flatmap(
            lambda s: st.integers(0, len(s)).map(lambda i: s[:i] + s[i + 1 :])
        ),
    )
)
def test_garbage_raises_only_note_error(junk: str) -> None:
    peter = Verifier.from_vkey(GO_VKEY)
    for call in (
        lambda: parse_note(junk),
        lambda: verify_note(junk, [peter]),
        lambda: Checkpoint.parse(junk),
        lambda: parse_vkey(junk),
        lambda: Signer.from_skey(junk),
        lambda: open_checkpoint(junk, peter),
        lambda: verify_cosignature(junk, peter),
        lambda: cosign(junk, WITNESS, 1),
        lambda: add_signatures(junk, [LOG]),
    ):
        with contextlib.suppress(NoteError):
            call()
