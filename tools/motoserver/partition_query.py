"""Runs moto_server with DynamoDB's Query on a base table reading only the
queried partition.

moto answers a Query by walking every item of the table, so on a table of a
hundred thousand items (a long chaos run or benchmark) each Query costs the
whole table. DynamoDB reads one partition. This launcher keeps moto's own
Query, result for result, and only hands it the partition's items when the
Query is on the base table of a table with a sort key; a Query on an index,
and every other operation, are moto's unchanged.

Usage: python3 partition_query.py [moto_server flags]
"""
import sys
import threading

from moto.dynamodb.models.table import Table
from moto.server import main

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

if __name__ == "__main__":
    main(sys.argv[1:])
