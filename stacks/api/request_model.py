"""API Gateway's request model built from the contract's plain JSON schema (contract.request).

One schema for the API and the local API front: this converts the plain dict into
``apigw.JsonSchema`` and refuses keywords it does not map, rather than dropping them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import aws_apigateway as apigw

_VERSIONS = {
    "http://json-schema.org/draft-04/schema#": apigw.JsonSchemaVersion.DRAFT4,
    "http://json-schema.org/draft-07/schema#": apigw.JsonSchemaVersion.DRAFT7,
}
# Keywords whose value is copied as is (JSON name -> JsonSchema argument).
_PLAIN = {
    "title": "title", "description": "description", "required": "required", "enum": "enum",
    "format": "format", "pattern": "pattern", "default": "default",
    "minimum": "minimum", "maximum": "maximum", "exclusiveMinimum": "exclusive_minimum",
    "exclusiveMaximum": "exclusive_maximum", "multipleOf": "multiple_of",
    "minLength": "min_length", "maxLength": "max_length", "minItems": "min_items",
    "maxItems": "max_items", "uniqueItems": "unique_items",
    "minProperties": "min_properties", "maxProperties": "max_properties",
}


def json_schema(schema: Mapping[str, Any]) -> apigw.JsonSchema:
    """``schema`` (JSON Schema as plain data) as an ``apigw.JsonSchema``; ValueError if unmapped."""
    kwargs: dict[str, Any] = {}
    for keyword, value in schema.items():
        if keyword == "$schema":
            if value not in _VERSIONS:
                raise ValueError(f"unsupported JSON Schema version {value!r}")
            kwargs["schema"] = _VERSIONS[value]
        elif keyword == "type":
            kwargs["type"] = ([_type(v) for v in value] if isinstance(value, list)
                              else _type(value))
        elif keyword == "properties":
            kwargs["properties"] = {name: json_schema(sub) for name, sub in value.items()}
        elif keyword == "items":
            kwargs["items"] = ([json_schema(sub) for sub in value] if isinstance(value, list)
                               else json_schema(value))
        elif keyword == "additionalProperties":
            kwargs["additional_properties"] = (value if isinstance(value, bool)
                                               else json_schema(value))
        elif keyword in _PLAIN:
            kwargs[_PLAIN[keyword]] = list(value) if keyword == "required" else value
        else:
            raise ValueError(f"JSON Schema keyword {keyword!r} has no mapping to apigw.JsonSchema")
    return apigw.JsonSchema(**kwargs)


def _type(name: str) -> apigw.JsonSchemaType:
    try:
        return apigw.JsonSchemaType[name.upper()]
    except KeyError:
        raise ValueError(f"unknown JSON Schema type {name!r}") from None
