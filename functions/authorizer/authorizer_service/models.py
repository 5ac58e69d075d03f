from __future__ import annotations

from pydantic import Field

from careforall.config import BaseSettings


class Settings(BaseSettings):
    users_table_name: str = Field(alias="USERS_TABLE_NAME", min_length=1)
    jwt_secret_id: str = Field(alias="JWT_SECRET_ID", min_length=1)
    token_issuer: str = Field(alias="TOKEN_ISSUER", min_length=1)
