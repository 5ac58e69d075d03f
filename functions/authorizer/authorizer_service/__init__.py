"""API Gateway TOKEN authorizer: admits requests that carry a valid CareForAll JWT."""
