#!/usr/bin/env python3
"""CDK entry point: reads typed config from context and synthesizes the AIOS stack."""

from aws_cdk import App

from stacks.application import build_app, cdk_json_context

app = App(context=cdk_json_context())
build_app(app)
app.synth()
