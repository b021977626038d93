"""`mmhealth key`: create and check the pseudonym key file (mmhealth.pseudonym). Never prints the key."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from mmhealth.pseudonym import DEFAULT_KEY_FILE, KEY_FILE_ENV


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "key",
        help="create / check the pseudonym key file patient_key is hashed with",
        description=(
            "The pseudonym key is the secret of the keyed hash behind patient_key: with it and a FHIR id anyone can "
            f"link a patient_key back to the patient. It lives in one file outside the lake: ${KEY_FILE_ENV}, by "
            f"default {DEFAULT_KEY_FILE}, mode 0600. dbt's SQL names the file and DuckDB reads it at run time, so "
            "the key reaches no compiled SQL, dbt artifact or log. These commands never print the key."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  mmhealth key init            # once per machine (make demo does it)\n"
        "  mmhealth key check\n  MMHEALTH_PSEUDONYM_KEY_FILE=/run/secrets/mmhealth.key mmhealth key check\n"
        "rotating the key re-keys every patient: move the file away, `mmhealth key init`, then\n"
        "`dbt build --full-refresh` (docs/governance.md)",
    )
    sub = p.add_subparsers(dest="key_command", metavar="ACTION", required=True)

    def common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--file", type=Path, default=None, metavar="PATH",
                        help=f"the key file (default: ${KEY_FILE_ENV}, else {DEFAULT_KEY_FILE})")
        sp.add_argument("--lake", type=Path, default=None, metavar="LAKE",
                        help="refuse a key file inside this lake folder (default: $MMHEALTH_LAKE, when set)")

    init = sub.add_parser("init", help="create a new random key file (0600); refuses to overwrite one",
                          description="Write 256 random bits as hex to the key file, created with mode 0600 (its "
                                      "folder 0700 when created). An existing file is never overwritten.")
    common(init)
    init.add_argument("--exist-ok", action="store_true",
                      help="an existing key file is checked and kept instead of being an error (what make demo uses)")
    init.set_defaults(func=handle_init)

    check = sub.add_parser("check", help="check the key file: present, 0600, outside the lake, a hex key",
                           description="Exit 0 when the key file is usable, else 1 with the fix. Prints the path, "
                                       "mode and key length, never the key.")
    common(check)
    check.set_defaults(func=handle_check)

    path = sub.add_parser("path", help="print the key file's path (for scripts)",
                          description="Print the path of the key file the tools and dbt read.")
    path.add_argument("--file", type=Path, default=None, metavar="PATH", help="the key file (default as above)")
    path.set_defaults(func=handle_path)


def _paths(args) -> tuple[Path, Path | None]:
    from mmhealth.pseudonym import key_file

    lake = args.lake or (Path(os.environ["MMHEALTH_LAKE"]) if os.environ.get("MMHEALTH_LAKE") else None)
    return (args.file.expanduser().absolute() if args.file else key_file()), lake


def handle_init(args) -> int:
    from mmhealth.pseudonym import check_key_file, create_key

    path, lake = _paths(args)
    if args.exist_ok and (path.exists() or path.is_symlink()):
        kf = check_key_file(path, lake)
        print(f"kept the existing pseudonym key file {kf.path} ({kf.mode:04o}, {kf.hex_chars} hex characters)")
        return 0
    kf = create_key(path, lake)
    print(f"created the pseudonym key file {kf.path} ({kf.mode:04o}, {kf.hex_chars} hex characters); keep it "
          "secret and backed up: losing it means new patient keys for everyone")
    return 0


def handle_check(args) -> int:
    from mmhealth.pseudonym import check_key_file

    path, lake = _paths(args)
    kf = check_key_file(path, lake)
    print(f"ok: pseudonym key file {kf.path} ({kf.mode:04o}, {kf.hex_chars} hex characters)")
    return 0


def handle_path(args) -> int:
    from mmhealth.pseudonym import key_file

    print(args.file.expanduser().absolute() if args.file else key_file())
    return 0
