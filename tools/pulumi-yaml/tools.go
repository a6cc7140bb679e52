//go:build tools

// Package tools records the command this wrapper module builds, so that `go mod tidy` keeps its
// dependencies in go.sum: the YAML language host, which runs `runtime: yaml` programs. It brings
// its own pkg/sdk versions (its go.mod's); it is a separate binary from the CLI.
package tools

import _ "github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml"
