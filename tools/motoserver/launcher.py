"""Runs moto_server with fast paths for what a long local run does most.

moto keeps its answers, result for result; it only looks less far to give
them. Each fast path below says what moto does and what it does instead.
A long chaos run or benchmark holds a hundred thousand ledger items and
thousands of queued messages, where moto's walks of the whole table or
queue set the pace of the run rather than the code under test.

The fast paths replace functions of moto's internals, which change between
versions: they are written for MOTO_VERSION, the version
tools/motoserver/requirements.txt pins. On any other version the launcher
says so and runs plain moto_server.

Usage: python3 launcher.py [moto_server flags]
"""
import sys
from importlib.metadata import version

from moto.server import main

MOTO_VERSION = "5.2.1"

# What the launcher prints of itself starts with this; tools/with-moto.sh and
# the Go package pass such lines on and keep moto's request log to themselves.
NOTE = "launcher: "

if __name__ == "__main__" and version("moto") != MOTO_VERSION:
    print(
        f"{NOTE}moto {version('moto')} is installed; the fast paths are written for moto "
        f"{MOTO_VERSION} (tools/motoserver/requirements.txt): running plain moto_server",
        file=sys.stderr,
        flush=True,
    )
    main(sys.argv[1:])
    sys.exit(0)

# Only on MOTO_VERSION from here on: the modules and functions below are that
# version's.
import copy
import threading
import time

import moto.dynamodb.models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table
from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from moto.sqs.exceptions import InvalidParameterValue, ReceiptHandleIsInvalid
from moto.sqs.models import Message, Queue, SQSBackend

# --- DynamoDB: Query reads one partition -----------------------------------
# moto answers a Query by walking every item of the table; DynamoDB reads one
# partition. moto's own Query gets only the partition's items when the Query
# is on the base table of a table with a sort key; a Query on an index, and
# every other operation, are moto's unchanged.

_partition = threading.local()
_all_items = Table.all_items
_query = Table.query


def all_items(self):
    scope = getattr(_partition, "scope", None)
    if scope is not None and scope[0] is self:
        return list(scope[1].values())
    return _all_items(self)


def query(self, hash_key, *args, **kwargs):
    # index_name is Query's eighth parameter, passed by position or by name.
    index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
    if index_name or not self.range_key_attr or hash_key is None:
        return _query(self, hash_key, *args, **kwargs)
    _partition.scope = (self, dict(self.items.get(hash_key, {})))
    try:
        return _query(self, hash_key, *args, **kwargs)
    finally:
        _partition.scope = None


Table.all_items = all_items
Table.query = query

# --- DynamoDB: transactions back up their items, not their tables --------------
# Before a TransactWriteItems, moto deep-copies each table it writes, once per
# item (a transaction of 100 writes to a table of 50,000 items copies five
# million), to put the tables back if the transaction is cancelled. Here it
# copies the items the transaction names instead, and puts those back; moto's
# own steps, checks and answers are unchanged. Responses carry the header
# below so the local stack's proxy can hand transactions to moto whole.

TRANSACT_HEADER = ("X-Sfsync-Moto", "item-backups")

_tx = threading.local()


class _TableCopies:
    """copy as moto's transaction sees it: a table copies to itself."""

    def __getattr__(self, name):
        return getattr(copy, name)

    def deepcopy(self, x, memo=None):
        if getattr(_tx, "active", False) and isinstance(x, Table):
            return x
        return copy.deepcopy(x, memo)


dynamodb_models.copy = _TableCopies()
_transact_write_items = DynamoDBBackend.transact_write_items


def _item_key(table, op):
    attrs = op.get("Key") or op.get("Item") or {}
    hash_value = DynamoType(attrs[table.hash_key_attr])
    range_value = DynamoType(attrs[table.range_key_attr]) if table.range_key_attr else None
    return hash_value, range_value


def transact_write_items(self, transact_items):
    backups = []
    for entry in transact_items:
        for op in entry.values():
            table = self.tables.get(op.get("TableName")) if isinstance(op, dict) else None
            if table is None:
                continue
            try:
                hash_value, range_value = _item_key(table, op)
            except (KeyError, TypeError, ValueError):
                continue  # moto refuses the item before writing it
            if range_value is not None:
                old = table.items.get(hash_value, {}).get(range_value)
            else:
                old = table.items.get(hash_value)
            backups.append((table, hash_value, range_value, copy.deepcopy(old)))
    _tx.active = True
    try:
        return _transact_write_items(self, transact_items)
    except BaseException:
        for table, hash_value, range_value, old in reversed(backups):
            if range_value is not None:
                partition = table.items[hash_value]
                if old is None:
                    partition.pop(range_value, None)
                else:
                    partition[range_value] = old
            elif old is None:
                table.items.pop(hash_value, None)
            else:
                table.items[hash_value] = old
        raise
    finally:
        _tx.active = False


DynamoDBBackend.transact_write_items = transact_write_items

_dispatch = DomainDispatcherApplication.__call__


def dispatch(self, environ, start_response):
    def start(status, headers, exc_info=None):
        return start_response(status, list(headers) + [TRANSACT_HEADER], exc_info)

    return _dispatch(self, environ, start)


DomainDispatcherApplication.__call__ = dispatch

# --- SQS ---------------------------------------------------------------------
# 1. Clock: moto asks the time of every message it looks at, through a
#    datetime subtraction; time.time() is the same clock, read once per walk.
# 2. Sending: moto builds every queue attribute, and so counts the queue
#    three times, for each message it sends, to read ContentBasedDeduplication.
#    While a message is being sent the counts are not made (nothing in
#    sending reads them).
# 3. Receipt handles: moto finds the message of a receipt handle (delete,
#    change visibility) by walking the queue twice. An index from handle to
#    message, rebuilt when a handle is missing from it, finds it at once.
# 4. Long polls: a waiting ReceiveMessage lists every ready message each time
#    any message is sent; it only needs to know whether there is one.


def _now_ms():
    return time.time() * 1000.0


Message.visible = property(lambda self: _now_ms() > self.visible_at)
Message.delayed = property(lambda self: _now_ms() < self.delayed_until)

_sending = threading.local()


def _counting():
    return not getattr(_sending, "active", False)


def _ready(queue, now):
    return [m for m in queue._messages if now > m.visible_at and now >= m.delayed_until]


def _delayed(queue):
    if not _counting():
        return 0
    now = _now_ms()
    return sum(1 for m in queue._messages if now < m.delayed_until)


def _not_visible(queue):
    if not _counting():
        return 0
    now = _now_ms()
    return sum(1 for m in queue._messages if now <= m.visible_at)


def _visible(queue):
    return len(_ready(queue, _now_ms())) if _counting() else 0


Queue.messages = property(lambda self: _ready(self, _now_ms()))
Queue.approximate_number_of_messages_delayed = property(_delayed)
Queue.approximate_number_of_messages_not_visible = property(_not_visible)
Queue.approximate_number_of_messages = property(_visible)

_send_message = SQSBackend.send_message


def send_message(self, *args, **kwargs):
    _sending.active = True
    try:
        return _send_message(self, *args, **kwargs)
    finally:
        _sending.active = False


SQSBackend.send_message = send_message

_handles_lock = threading.Lock()


def _find(queue, receipt_handle):
    """The queued message that had receipt_handle, or None."""
    with _handles_lock:
        index = queue.__dict__.setdefault("_handle_index", {})
        message = index.get(receipt_handle)
        if message is not None and message in queue._messages:
            return message
        index.clear()
        for m in queue._messages:
            for h in m.all_receipt_handles:
                if h is not None:
                    index[h] = m
        return index.get(receipt_handle)


def delete_message(self, receipt_handle):
    if receipt_handle in self.deleted_messages:
        # Already deleted: deleting again succeeds, as in moto.
        return
    message = _find(self, receipt_handle)
    if message is None:
        raise ReceiptHandleIsInvalid()
    self.pending_messages.discard(message)
    self.deleted_messages.update(message.all_receipt_handles)
    self._messages = [m for m in self._messages if m is not message]


def change_message_visibility(self, queue_name, receipt_handle, visibility_timeout):
    queue = self.get_queue(queue_name)
    message = _find(queue, receipt_handle)
    if message is None:
        raise ReceiptHandleIsInvalid
    given = _now_ms() + int(visibility_timeout) * 1000
    if given - message.sent_timestamp > 43200 * 1000:
        raise InvalidParameterValue(
            f"Value {visibility_timeout} for parameter VisibilityTimeout is invalid. Reason: Total "
            "VisibilityTimeout for the message is beyond the limit [43200 seconds]"
        )
    message.change_visibility(visibility_timeout)
    if message.visible and message in queue.pending_messages:
        queue.pending_messages.remove(message)


def wait_for_messages(self, timeout):
    def any_ready():
        now = _now_ms()
        return any(now > m.visible_at and now >= m.delayed_until for m in self._messages)

    with self._messages_lock:
        self._messages_lock.wait_for(any_ready, timeout=timeout)


Queue.delete_message = delete_message
Queue.wait_for_messages = wait_for_messages
SQSBackend.change_message_visibility = change_message_visibility

if __name__ == "__main__":
    main(sys.argv[1:])
