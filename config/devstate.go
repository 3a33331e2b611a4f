package config

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
)

// LegacyDataDir is where dev state lived before it was kept per database:
// a directory of the checkout. Its key file is adopted when it matches.
const LegacyDataDir = ".vault-dev"

// DevResetCommand drops the dev database and its dev state; every error
// that only it can fix names it.
const DevResetCommand = "make dev-reset"

// DevDatabase is what dev mode learns about its database before it picks
// keys for it.
type DevDatabase struct {
	// Key names the database for good (it changes when the database is
	// dropped and created again); its dev state lives in <root>/<Key>.
	Key string
	// Name is the database's name, for messages.
	Name string
	// MasterKeys reports that the database holds master keys, wrapped under
	// an ENCRYPTION_KEY of its own.
	MasterKeys bool
	// KeyedBy reports whether the log's links were made with chainKey; nil
	// when the log has no keyed link (then any chain key will do).
	KeyedBy func(chainKey []byte) bool
}

// DevDatabaseFunc identifies the dev database DATABASE_URL names, creating
// it when it is missing; devstate.Database is the one vaultd uses.
type DevDatabaseFunc func(ctx context.Context, databaseURL string, logger *slog.Logger) (DevDatabase, error)

// Options are LoadWith's inputs. The zero value reads the process
// environment, logs nowhere and keeps dev state directly in the data
// directory (tests).
type Options struct {
	Lookup func(string) (string, bool)
	Logger *slog.Logger
	// DevDatabase, when set, makes dev mode keep its state per database.
	DevDatabase DevDatabaseFunc
}

// Setting is one variable's value, or its default, without loading (or
// checking) anything else: for commands such as dev-reset that must work
// when the rest of the configuration does not.
func Setting(lookup func(string) (string, bool), name string) string {
	return (&parser{lookup: lookup}).str(name)
}

// DevRoot is the directory dev state lives under: VAULT_DATA_DIR when set,
// else <user config dir>/securevault/dev (the checkout's .vault-dev when
// the system has no such directory).
func DevRoot(lookup func(string) (string, bool)) string {
	if dir := (&parser{lookup: lookup}).str(EnvDataDir); dir != "" {
		return dir
	}
	base, err := os.UserConfigDir()
	if err != nil {
		return LegacyDataDir
	}
	return filepath.Join(base, "securevault", "dev")
}

// resolveStateDir picks StateDir: in dev mode the dev database's own
// directory under DevRoot, otherwise VAULT_DATA_DIR.
func (c *Config) resolveStateDir(ctx context.Context, opts Options, logger *slog.Logger) error {
	if c.Mode != ModeDev {
		c.StateDir = c.DataDir
		return nil
	}
	root := DevRoot(opts.Lookup)
	c.StateDir = root
	if opts.DevDatabase == nil {
		return nil
	}
	db, err := opts.DevDatabase(ctx, c.DatabaseURL, logger)
	if err != nil {
		return fmt.Errorf("dev mode: %w", err)
	}
	c.devDB = &db
	c.StateDir = filepath.Join(root, db.Key)
	return nil
}

// legacyDir is where this checkout (or VAULT_DATA_DIR itself) kept dev
// state before it was kept per database.
func (c *Config) legacyDir() string {
	if c.DataDir != "" {
		return c.DataDir
	}
	return LegacyDataDir
}

// adoptLegacy copies the legacy dev state (its key file and the other files
// beside it, such as the checkpoint key; not its JetStream data) into the
// database's directory when the legacy chain key is the one the database's
// log was linked with. It reports whether it did.
func (c *Config) adoptLegacy(logger *slog.Logger) (bool, error) {
	if c.devDB == nil || c.devDB.KeyedBy == nil {
		return false, nil
	}
	legacy := c.legacyDir()
	if filepath.Clean(legacy) == filepath.Clean(c.StateDir) {
		return false, nil
	}
	keys, err := readDevKeys(filepath.Join(legacy, DevKeysFileName), logger)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	chainKey, err := decodeBase64(keys.chainKey)
	if err != nil || !c.devDB.KeyedBy(chainKey) {
		return false, nil // another database's keys
	}
	if err := os.MkdirAll(c.StateDir, 0o700); err != nil {
		return false, fmt.Errorf("create %s: %w", c.StateDir, err)
	}
	entries, err := os.ReadDir(legacy)
	if err != nil {
		return false, fmt.Errorf("read %s: %w", legacy, err)
	}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		if err := copyIfAbsent(filepath.Join(legacy, e.Name()), filepath.Join(c.StateDir, e.Name())); err != nil {
			return false, err
		}
	}
	logger.Warn("DEV MODE: adopted the dev keys of this checkout for the dev database; the old copy can go",
		"database", c.devDB.Name, "from", legacy, "to", c.StateDir)
	return true, nil
}

// copyIfAbsent copies src to dst with mode 0600 unless dst exists.
func copyIfAbsent(src, dst string) error {
	b, err := os.ReadFile(filepath.Clean(src))
	if err != nil {
		return fmt.Errorf("read %s: %w", src, err)
	}
	f, err := os.OpenFile(filepath.Clean(dst), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("create %s: %w", dst, err)
	}
	if _, err := f.Write(b); err != nil {
		_ = f.Close() // the write error is the one to report
		return fmt.Errorf("write %s: %w", dst, err)
	}
	return f.Close()
}

// devKeyNeeds says which keys are about to be taken from the dev key file
// rather than the environment.
type devKeyNeeds struct{ encryption, chain bool }

// unreadable reports whether keys generated now for needs could not read
// what the database holds: its master keys, or its log's keyed links. A new
// SECRET_KEY only ends the sessions signed by the lost one.
func (c *Config) unreadable(needs devKeyNeeds, keys devKeys) bool {
	if c.devDB == nil {
		return false
	}
	return (needs.encryption && keys.encryptionKey == "" && c.devDB.MasterKeys) ||
		(needs.chain && keys.chainKey == "" && c.devDB.KeyedBy != nil)
}

// errForeignDatabase is the mismatch that only a reset (or the lost key
// file) can fix.
func (c *Config) errForeignDatabase() error {
	return fmt.Errorf("dev mode: database %q already holds data encrypted and chained under dev keys that are not in %s "+
		"(they were generated by another checkout, or that file was deleted). Copy that checkout's %s there, "+
		"or run `%s` to drop the dev database and its dev state and start over",
		c.devDB.Name, filepath.Join(c.StateDir, DevKeysFileName), filepath.Join(LegacyDataDir, DevKeysFileName), DevResetCommand)
}
