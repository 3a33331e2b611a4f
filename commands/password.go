package commands

import (
	"context"
	"net/netip"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/envelope"
	"github.com/securevault/vault/seal"
)

// Password hashes never enter the log: each is sealed under its own data
// key (one per user and password version, in data_keys) with the user id
// and the version as additional data, like a secret value. Changing a
// password shreds the previous version's key; deleting a user shreds all of
// them, so every hash it ever had becomes unreadable.

// timingOwner owns the one data key that the paths without a real user
// (unknown username, disabled or locked account) unwrap, so that every
// login does the same key work as a real one, whatever the key provider
// costs. It is a fixed id no user can have (users get random ids).
const timingOwner = "00000000-0000-4000-8000-0000000000ff"

func passwordRef(userID string, version int64) seal.Ref {
	return seal.Ref{Purpose: seal.PasswordHash, OwnerID: userID, Version: version}
}

// hashAndSeal hashes password and seals the hash as version of userID.
func (id *Identity) hashAndSeal(ctx context.Context, userID string, version int64, password string) (domain.SealedPassword, error) {
	hash, err := id.hasher.Hash(ctx, password)
	if err != nil {
		return domain.SealedPassword{}, err
	}
	plain := []byte(hash)
	defer envelope.Zero(plain)
	sealed, err := id.sealer.Seal(ctx, passwordRef(userID, version), plain)
	if err != nil {
		return domain.SealedPassword{}, err
	}
	return domain.SealedPassword{Version: version, Sealed: sealed}, nil
}

// verifyPassword checks password against the user's hash, opening it from
// its sealed form (or, for a hash from before sealing, reading it as is).
func (id *Identity) verifyPassword(ctx context.Context, u *domain.User, password string) (bool, error) {
	hash := u.LegacyPasswordHash()
	if hash == "" {
		p := u.Password()
		plain, err := id.sealer.Open(ctx, passwordRef(u.ID(), p.Version), p.Sealed)
		if err != nil {
			if domain.ErrorCode(err) == domain.ENOTFOUND {
				// A password change committed after u was loaded shreds the
				// key of the version u shows: the caller reloads and retries.
				return false, domain.WrapError(domain.ECONFLICT, "the password changed meanwhile", err)
			}
			return false, err
		}
		hash = string(plain)
		envelope.Zero(plain)
	}
	return id.hasher.Verify(ctx, password, hash)
}

// verifyDummy spends what verifyPassword spends (a data key unwrap and one
// Argon2id verification) without a user.
func (id *Identity) verifyDummy(ctx context.Context, password string) error {
	dk, err := id.sealer.Key(ctx, timingOwner, 1)
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		dk, err = id.sealer.NewKey(ctx, timingOwner, 1)
	}
	if err != nil {
		return err
	}
	envelope.Zero(dk)
	return id.hasher.VerifyDummy(ctx, password)
}

// shredOldPassword deletes the key of the version a password change
// replaced; the new hash is stored, so the old one is never needed again.
func (id *Identity) shredOldPassword(ctx context.Context, userID string, replaced int64) {
	if replaced < domain.FirstPasswordVersion {
		return
	}
	if err := id.sealer.Shred(context.WithoutCancel(ctx), userID, replaced); err != nil {
		id.svc.logger.WarnContext(ctx, "could not shred a replaced password hash; deleting the user shreds it", "user_id", userID, "error", err)
	}
}

// dropUnusedPasswordKey deletes a key no stored event references (its
// append failed).
func (id *Identity) dropUnusedPasswordKey(ctx context.Context, userID string, version int64) {
	if err := id.sealer.Shred(context.WithoutCancel(ctx), userID, version); err != nil {
		id.svc.logger.WarnContext(ctx, "could not delete an unused data key", "user_id", userID, "version", version, "error", err)
	}
}

// loginAddress is the address a login attempt counts against in the
// lockout: the client IP, except that an IPv6 client counts as its /64,
// since whoever holds one address of a /64 usually holds them all.
func loginAddress(clientIP string) string {
	addr, err := netip.ParseAddr(clientIP)
	if err != nil {
		if clientIP == "" {
			return "unknown"
		}
		return clientIP
	}
	addr = addr.Unmap()
	if addr.Is6() {
		prefix, err := addr.Prefix(64)
		if err == nil {
			return prefix.String()
		}
	}
	return addr.String()
}
