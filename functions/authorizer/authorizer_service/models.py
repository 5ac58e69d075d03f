from __future__ import annotations

from pydantic import Field

from careforall.config import BaseSettings
from careforall.identity import Role
from pydantic import BaseModel


class Settings(BaseSettings):
    users_table_name: str = Field(alias="USERS_TABLE_NAME", min_length=1)
    jwt_secret_id: str = Field(alias="JWT_SECRET_ID", min_length=1)
    token_issuer: str = Field(alias="TOKEN_ISSUER", min_length=1)


class Principal(BaseModel):
    """What the authorizer hands to the API functions in requestContext.authorizer."""

    user_id: str
    email: str
    role: Role
