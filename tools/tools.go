//go:build tools

// Package tools pins the Go-built developer tools of this project.
// scripts/install-tools builds them into ../.tools with one `go build`.
package tools

import (
	_ "github.com/distribution/distribution/v3/cmd/registry"
	_ "github.com/docker/compose/v2/cmd"
	_ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
)
