#!/bin/sh
aws s3 sync "$@"
