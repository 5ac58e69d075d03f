"""Reads a user's current identity from the users table (item USER#<id>, written by users_service)."""

from __future__ import annotations

from careforall import dynamo
from careforall.identity import Caller


class DynamoUserDirectory:
    def __init__(self, table_name: str, client=None) -> None:
        self._table = table_name
        self._client = client or dynamo.client()

    def find(self, user_id: str) -> Caller | None:
        item = dynamo.from_item(self._client.get_item(
            TableName=self._table, Key=dynamo.to_item({"pk": f"USER#{user_id}"}),
            ProjectionExpression="id, email, #role", ExpressionAttributeNames={"#role": "role"}).get("Item"))
        return Caller(user_id=item["id"], email=item["email"], role=item["role"]) if item else None


def authenticator_for(jwt_secret_id: str, token_issuer: str, users_table_name: str):
    """The Authenticator every entry point uses: our access tokens, checked against the users table."""
    from careforall.auth import Authenticator
    from careforall.secrets import get_secret
    from careforall.tokens import TokenService

    return Authenticator(TokenService(get_secret(jwt_secret_id), token_issuer), DynamoUserDirectory(users_table_name))
