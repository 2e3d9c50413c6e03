#!/usr/bin/python3
"""A small iogate client for trying the gateways: connects with a token, prints every event it
receives, and can send a private message. Uses Debian's python3-socketio.

  tools/gateway_client.py --token "$TOKEN" [--url http://localhost:3000] [--namespace /admin]
                          [--to 2 --message "hello"] [--seconds 30]
"""
import argparse
import json
import sys
import threading

import socketio


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--token", required=True, help="a token from `iogate token`")
    parser.add_argument("--url", default="http://localhost:3000")
    parser.add_argument("--namespace", default="/admin")
    parser.add_argument("--to", help="user id to send a private message to")
    parser.add_argument("--message", default="hello", help="the private message")
    parser.add_argument("--seconds", type=float, default=30, help="how long to stay connected")
    args = parser.parse_args()

    client = socketio.Client(reconnection=False)
    done = threading.Event()
    lock = threading.Lock()

    def show(line):
        # Handlers run on several threads: one whole line at a time.
        with lock:
            print(line, flush=True)

    @client.on("*", namespace=args.namespace)
    def any_event(event, *data):
        show(f"<- {event} {json.dumps(data[0] if len(data) == 1 else list(data), ensure_ascii=False)}")

    @client.on("connected", namespace=args.namespace)
    def connected(data):
        show(f"<- connected {json.dumps(data, ensure_ascii=False)}")
        if args.to is not None:
            to = int(args.to) if args.to.isdigit() else args.to
            client.emit("private:message", {"toUserId": to, "message": args.message}, namespace=args.namespace)
            show(f"-> private:message to {to}: {args.message}")

    @client.on("disconnect", namespace=args.namespace)
    def disconnected():
        show("disconnected")
        done.set()

    try:
        client.connect(args.url, namespaces=[args.namespace], auth={"token": args.token})
    except socketio.exceptions.ConnectionError as error:
        print(f"refused: {error}", file=sys.stderr)
        return 1
    done.wait(args.seconds)
    if client.connected:
        client.disconnect()
    return 0


if __name__ == "__main__":
    sys.exit(main())
