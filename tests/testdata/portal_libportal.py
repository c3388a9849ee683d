#!/usr/bin/python3
# Drives the desktop portal through libportal (Xdp 1.0 GObject
# introspection): one call per portal libportal covers, one after the
# other under a GLib main loop. Prints "name: result" per call.
# Arguments: a directory with the files to use.
import ctypes
import os
import sys

import gi

gi.require_version("Xdp", "1.0")
from gi.repository import GLib, Xdp  # noqa: E402

files = sys.argv[1]
portal = Xdp.Portal()
loop = GLib.MainLoop()
steps = []


def step(fn):
    steps.append(fn)
    return fn


def out(name, value):
    print("%s: %s" % (name, value), flush=True)


def finisher(name, finish, fmt=str):
    def cb(p, res, *data):
        try:
            out(name, fmt(finish(res)))
        except GLib.Error as e:
            out(name, "error " + e.message)
        advance()
    return cb


def variant(v):
    return v.print_(False) if v is not None else "None"


@step
def user_information():
    portal.get_user_information(None, "to greet you", Xdp.UserInformationFlags.NONE, None,
                                finisher("get_user_information", portal.get_user_information_finish, variant))


@step
def open_file():
    filters = GLib.Variant("a(sa(us))", [("Text", [(1, "text/plain")])])
    portal.open_file(None, "Pick", filters, None, None, Xdp.OpenFileFlags.MULTIPLE, None,
                     finisher("open_file", portal.open_file_finish, variant))


@step
def save_file():
    portal.save_file(None, "Save", "save.txt", None, None, None, None, None, Xdp.SaveFileFlags.NONE, None,
                     finisher("save_file", portal.save_file_finish, variant))


# libportal 0.6's introspection data marks open_uri's parent as not
# nullable, and an XdpParent can only be made from a GTK window; the C
# function takes NULL (no parent), so call it through ctypes.
libportal = ctypes.CDLL("libportal.so.1")
capsule = ctypes.pythonapi.PyCapsule_GetPointer
capsule.restype, capsule.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
portal_ptr = capsule(portal.__gpointer__, None)
ReadyCallback = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)
libportal.xdp_portal_open_uri.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int,
                                          ctypes.c_void_p, ReadyCallback, ctypes.c_void_p]
libportal.xdp_portal_open_uri_finish.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p)]
libportal.xdp_portal_open_uri_finish.restype = ctypes.c_int
callbacks = []


def open_uri_c(name, uri):
    def cb(source, res, data):
        err = ctypes.c_void_p()
        ok = libportal.xdp_portal_open_uri_finish(portal_ptr, res, ctypes.byref(err))
        out(name, "True" if ok else "error")
        advance()
    callbacks.append(ReadyCallback(cb))
    libportal.xdp_portal_open_uri(portal_ptr, None, uri.encode(), int(Xdp.OpenUriFlags.ASK), None, callbacks[-1], None)


@step
def open_uri():
    open_uri_c("open_uri", "porthole-test://libportal")


@step
def open_uri_file():
    open_uri_c("open_uri_file", "file://" + os.path.join(files, "doc.txt"))


@step
def trash_file():
    portal.trash_file(os.path.join(files, "junk.txt"), None, finisher("trash_file", portal.trash_file_finish))


@step
def add_notification():
    n = GLib.Variant("a{sv}", {"title": GLib.Variant("s", "From libportal"), "body": GLib.Variant("s", "hello")})
    portal.add_notification("lp1", n, Xdp.NotificationFlags.NONE, None,
                            finisher("add_notification", portal.add_notification_finish))


@step
def remove_notification():
    portal.remove_notification("lp1")
    out("remove_notification", "sent")
    advance()


@step
def inhibit():
    def cb(p, res):
        try:
            cookie = portal.session_inhibit_finish(res)
            out("session_inhibit", "ok")
            portal.session_uninhibit(cookie)
        except GLib.Error as e:
            out("session_inhibit", "error " + e.message)
        advance()
    portal.session_inhibit(None, "playing", Xdp.InhibitFlags.IDLE | Xdp.InhibitFlags.SUSPEND, None, cb)


@step
def session_monitor():
    portal.session_monitor_start(None, Xdp.SessionMonitorFlags.NONE, None,
                                 finisher("session_monitor_start", portal.session_monitor_start_finish))


@step
def compose_email():
    portal.compose_email(None, ["ann@example.com"], None, None, "Hello", "Body text", None,
                         Xdp.EmailFlags.NONE, None, finisher("compose_email", portal.compose_email_finish))


@step
def screenshot():
    portal.take_screenshot(None, Xdp.ScreenshotFlags.INTERACTIVE, None,
                           finisher("take_screenshot", portal.take_screenshot_finish))


@step
def pick_color():
    portal.pick_color(None, None, finisher("pick_color", portal.pick_color_finish, variant))


@step
def prepare_print():
    settings = GLib.Variant("a{sv}", {"n-copies": GLib.Variant("s", "3")})
    setup = GLib.Variant("a{sv}", {"PPDName": GLib.Variant("s", "iso_a4")})
    portal.prepare_print(None, "Doc", settings, setup, Xdp.PrintFlags.NONE, None,
                         finisher("prepare_print", portal.prepare_print_finish, variant))


@step
def print_file():
    portal.print_file(None, "Doc", 7, os.path.join(files, "print.ps"), Xdp.PrintFlags.NONE, None,
                      finisher("print_file", portal.print_file_finish))


@step
def background():
    portal.request_background(None, "to sync", ["sync-tool", "--bg"], Xdp.BackgroundFlags.AUTOSTART, None,
                              finisher("request_background", portal.request_background_finish))


@step
def wallpaper():
    portal.set_wallpaper(None, "file://" + os.path.join(files, "bg.png"), Xdp.WallpaperFlags.LOCKSCREEN, None,
                         finisher("set_wallpaper", portal.set_wallpaper_finish))


@step
def location():
    # The start's answer and the first update may come in either order.
    pending = {"start", "update"}

    def settle(what):
        pending.discard(what)
        if not pending:
            portal.disconnect(handler)
            portal.location_monitor_stop()
            advance()

    def updated(p, lat, lon, alt, acc, speed, heading, desc, ts, tms):
        out("location_updated", "%.4f %.4f %.1f %d" % (lat, lon, acc, ts))
        settle("update")

    def started(p, res):
        try:
            out("location_monitor_start", portal.location_monitor_start_finish(res))
            settle("start")
        except GLib.Error as e:
            out("location_monitor_start", "error " + e.message)
            portal.disconnect(handler)
            advance()

    handler = portal.connect("location-updated", updated)
    portal.location_monitor_start(None, 0, 0, Xdp.LocationAccuracy.EXACT, Xdp.LocationMonitorFlags.NONE, None, started)


def run_step(fn):
    try:
        fn()
    except Exception as e:  # report and go on with the next call
        out(fn.__name__, "exception %s" % e)
        advance()
    return False


def advance():
    if steps:
        GLib.idle_add(run_step, steps.pop(0))
    else:
        loop.quit()


advance()
loop.run()
out("done", "yes")
