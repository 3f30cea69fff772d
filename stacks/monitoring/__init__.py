"""The monitoring component: the CloudWatch dashboard of variants, Lambda and API."""
