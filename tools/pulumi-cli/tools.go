//go:build tools

// Package tools records the commands this wrapper module builds, so that
// `go mod tidy` keeps their dependencies in go.sum.
package tools

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
