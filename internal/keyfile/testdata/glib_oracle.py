# Reads test cases (JSON on stdin) and answers with what GLib's GKeyFile
# makes of them (JSON on stdout). Used by glib_test.go as the reference.
import base64
import json
import struct
import sys

import gi

gi.require_version("GLib", "2.0")
from gi.repository import GLib  # noqa: E402

FLAGS = GLib.KeyFileFlags.KEEP_COMMENTS | GLib.KeyFileFlags.KEEP_TRANSLATIONS


def attempt(fn, *args):
    try:
        return fn(*args)
    except (GLib.Error, UnicodeDecodeError):
        return None


def to_data(kf):
    try:
        s = kf.to_data()[0]
    except UnicodeDecodeError:
        return None
    return base64.b64encode(s.encode("utf-8")).decode()


def dump(kf, locales):
    groups = list(kf.get_groups()[0])
    out = {"groups": groups, "keys": {}, "values": {}}
    for g in groups:
        keys = list(kf.get_keys(g)[0])
        out["keys"][g] = keys
        vals = out["values"][g] = {}
        for k in keys:
            if k in vals:
                continue
            raw = attempt(kf.get_value, g, k)
            if raw is None:  # shadowed duplicate, or undecodable
                continue
            d = {
                "raw": raw,
                "str": attempt(kf.get_string, g, k),
                "list": attempt(kf.get_string_list, g, k),
                "bool": attempt(kf.get_boolean, g, k),
                "int": attempt(kf.get_integer, g, k),
            }
            for name, fn in (("int64", kf.get_int64), ("uint64", kf.get_uint64)):
                v = attempt(fn, g, k)
                d[name] = None if v is None else str(v)
            v = attempt(kf.get_double, g, k)
            d["double"] = None if v is None else str(struct.unpack("<Q", struct.pack("<d", v))[0])
            if "[" not in k and locales:
                d["locale"] = {loc: attempt(kf.get_locale_string, g, k, loc) for loc in locales}
                d["locale_list"] = {loc: attempt(kf.get_locale_string_list, g, k, loc) for loc in locales}
            vals[k] = d
    return out


def run(case):
    data = base64.b64decode(case["data"])
    kf = GLib.KeyFile()
    try:
        kf.load_from_bytes(GLib.Bytes.new(data), FLAGS)
    except GLib.Error as e:
        return {"err": e.message}
    res = {"out": to_data(kf), "dump": dump(kf, case.get("locales") or [])}
    ops = case.get("ops")
    if ops:
        for op in ops:
            getattr(kf, op[0])(*op[1:])
        res["ops_out"] = to_data(kf)
    return res


json.dump([run(c) for c in json.load(sys.stdin)], sys.stdout)
