// Package sql embeds the database migrations so every binary carries the
// schema it was built for.
package sql

import "embed"

// Migrations holds the goose migrations, in the directory "migrations".
//
//go:embed migrations/*.sql
var Migrations embed.FS
