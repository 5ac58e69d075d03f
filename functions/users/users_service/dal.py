"""Users data access: DynamoDB items in the users and login-attempts tables.

Users table, one partition key `pk`:
  USER#<id>          the user
  EMAIL#<lowercased> {user_id}: the uniqueness guard, written in the same transaction as the user
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from careforall import contention, dynamo
from careforall.identity import Role

from users_service.logic import EmailTakenError
from users_service.models import UserRecord, email_key


class DynamoUserRepository:
    def __init__(self, table_name: str, client=None) -> None:
        self._table = table_name
        self._client = client or dynamo.client()

    def create(self, user: UserRecord) -> None:
        user_item = dynamo.to_item({"pk": f"USER#{user.id}", "entity": "USER", **user.model_dump(mode="json")})
        email_item = dynamo.to_item({"pk": f"EMAIL#{email_key(user.email)}", "entity": "EMAIL", "user_id": user.id})
        transaction = [
            {"Put": {"TableName": self._table, "Item": user_item, "ConditionExpression": "attribute_not_exists(pk)"}},
            {"Put": {"TableName": self._table, "Item": email_item, "ConditionExpression": "attribute_not_exists(pk)"}},
        ]
        try:
            # A conflict on the EMAIL# guard is a registration of the same email in flight: retried, it becomes
            # the ConditionalCheckFailed below once that one is written.
            contention.retry_contended(lambda: self._client.transact_write_items(TransactItems=transaction))
        except ClientError as error:
            if error.response["Error"]["Code"] == "TransactionCanceledException":
                codes = contention.cancellation_codes(error)
                if len(codes) > 1 and codes[1] == "ConditionalCheckFailed":
                    raise EmailTakenError("An account with this email already exists.") from None
            raise

    def get_by_id(self, user_id: str) -> UserRecord | None:
        item = dynamo.from_item(self._client.get_item(
            TableName=self._table, Key=dynamo.to_item({"pk": f"USER#{user_id}"}), ConsistentRead=True).get("Item"))
        return UserRecord.model_validate(item) if item else None

    def get_by_email(self, email: str) -> UserRecord | None:
        guard = dynamo.from_item(self._client.get_item(
            TableName=self._table, Key=dynamo.to_item({"pk": f"EMAIL#{email_key(email)}"}),
            ConsistentRead=True).get("Item"))
        return self.get_by_id(guard["user_id"]) if guard else None

    def set_role(self, user_id: str, role: Role) -> UserRecord | None:
        try:
            result = self._client.update_item(
                TableName=self._table,
                Key=dynamo.to_item({"pk": f"USER#{user_id}"}),
                UpdateExpression="SET #role = :role",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames={"#role": "role"},
                ExpressionAttributeValues=dynamo.to_values({":role": role.value}),
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if dynamo.is_condition_failure(error):
                return None
            raise
        return UserRecord.model_validate(dynamo.from_item(result["Attributes"]))
