package commands

import (
	"context"

	"github.com/securevault/vault/domain"
)

// UserView is a user as a command answers it: never the password or hash.
type UserView struct {
	ID       string   `json:"id"`
	Username string   `json:"username"`
	Email    string   `json:"email"`
	Roles    []string `json:"roles"`
	Disabled bool     `json:"disabled"`
}

func userView(u *domain.User) UserView {
	return UserView{ID: u.ID(), Username: u.Username(), Email: u.Email(), Roles: u.RoleIDs(), Disabled: u.Disabled()}
}

// CreateUserInput is a new user. Password is plaintext only until it is
// hashed; it is never stored or logged.
type CreateUserInput struct {
	Username string
	Email    string
	Password string
	Roles    []string
	Disabled bool
}

// CreateUser needs `admin` on users/<username>. The username is reserved in
// the same atomic append as UserCreated, so two concurrent creations of one
// name cannot both succeed, on one replica or many.
func (id *Identity) CreateUser(ctx context.Context, caller Caller, in CreateUserInput) (UserView, Written, error) {
	name, err := domain.NormalizeUsername(in.Username)
	if err != nil {
		return UserView{}, Written{}, err
	}
	if err := id.Authorize(ctx, caller, domain.ActionAdmin, UserResource(name)); err != nil {
		return UserView{}, Written{}, err
	}
	if err := id.opts.PasswordPolicy.Check(name, in.Password); err != nil {
		return UserView{}, Written{}, err
	}
	if err := id.requireRoles(ctx, in.Roles); err != nil {
		return UserView{}, Written{}, err
	}
	userID := domain.NewID()
	res, err := id.loadReservation(ctx, domain.UsernameReservationStream(name))
	if err != nil {
		return UserView{}, Written{}, err
	}
	// Checked before hashing so a taken name costs no Argon2id work; the
	// append below is what actually decides.
	if err := res.Reserve(userID); err != nil {
		return UserView{}, Written{}, err
	}
	hash, err := id.hasher.Hash(ctx, in.Password)
	if err != nil {
		return UserView{}, Written{}, err
	}
	u, err := domain.NewUser(userID, name, in.Email, hash)
	if err != nil {
		return UserView{}, Written{}, err
	}
	if err := u.AssignRoles(in.Roles); err != nil {
		return UserView{}, Written{}, err
	}
	if in.Disabled {
		if err := u.Disable(); err != nil {
			return UserView{}, Written{}, err
		}
	}
	md := caller.Metadata()
	w, err := id.svc.appendAndWait(ctx, []string{IdentityReadModel}, res.StreamAppend(md), u.StreamAppend(md))
	if err != nil {
		return UserView{}, Written{}, nameTaken(err, "user", name)
	}
	return userView(u), w, nil
}

// UpdateUserInput changes the fields that are set; nil leaves one as is.
// Usernames are fixed at creation: they name the user in policies.
type UpdateUserInput struct {
	Username *string
	Email    *string
	Password *string
	Roles    *[]string
	Disabled *bool
}

// UpdateUser needs `admin` on users/<username>. Disabling revokes every
// session of the user in the same atomic append.
func (id *Identity) UpdateUser(ctx context.Context, caller Caller, userID string, in UpdateUserInput) (UserView, Written, error) {
	if err := domain.ValidateID("user id", userID); err != nil {
		return UserView{}, Written{}, err
	}
	u, err := id.loadUser(ctx, userID)
	if err != nil {
		return UserView{}, Written{}, err
	}
	if err := id.Authorize(ctx, caller, domain.ActionAdmin, UserResource(u.Username())); err != nil {
		return UserView{}, Written{}, err
	}
	if in.Username != nil {
		name, err := domain.NormalizeUsername(*in.Username)
		if err != nil {
			return UserView{}, Written{}, err
		}
		if name != u.Username() {
			return UserView{}, Written{}, domain.Errorf(domain.EUNPROCESSABLE, "a username cannot be changed")
		}
	}
	if in.Email != nil {
		if err := u.UpdateEmail(*in.Email); err != nil {
			return UserView{}, Written{}, err
		}
	}
	if in.Roles != nil {
		if err := id.requireRoles(ctx, *in.Roles); err != nil {
			return UserView{}, Written{}, err
		}
		if err := u.AssignRoles(*in.Roles); err != nil {
			return UserView{}, Written{}, err
		}
	}
	var revocations []domain.StreamAppend
	if in.Disabled != nil {
		if *in.Disabled && !u.Disabled() {
			if err := u.Disable(); err != nil {
				return UserView{}, Written{}, err
			}
			if revocations, err = id.revokeUserSessions(ctx, u.ID(), domain.RevokeDisabled); err != nil {
				return UserView{}, Written{}, err
			}
		} else if !*in.Disabled {
			if err := u.Enable(); err != nil {
				return UserView{}, Written{}, err
			}
		}
	}
	if in.Password != nil {
		if err := id.opts.PasswordPolicy.Check(u.Username(), *in.Password); err != nil {
			return UserView{}, Written{}, err
		}
		hash, err := id.hasher.Hash(ctx, *in.Password)
		if err != nil {
			return UserView{}, Written{}, err
		}
		if err := u.ChangePassword(hash); err != nil {
			return UserView{}, Written{}, err
		}
		if revocations == nil { // disabling revoked every session already
			keep := ""
			if caller.Principal.UserID == u.ID() {
				keep = caller.Principal.SessionID
			}
			if revocations, err = id.revokeUserSessionsExcept(ctx, u.ID(), domain.RevokePasswordChanged, keep); err != nil {
				return UserView{}, Written{}, err
			}
		}
	}
	if len(u.Changes()) == 0 {
		return userView(u), Written{}, nil
	}
	md := caller.Metadata()
	appends := append([]domain.StreamAppend{u.StreamAppend(md)}, stamp(md, revocations)...)
	w, err := id.svc.appendAndWait(ctx, []string{IdentityReadModel}, appends...)
	if err != nil {
		return UserView{}, Written{}, err
	}
	return userView(u), w, nil
}

// DeleteUser needs `admin` on users/<username>. It releases the username
// and revokes every session in one atomic append. Nobody deletes their own
// account, so an administrator cannot lock everyone out by accident.
func (id *Identity) DeleteUser(ctx context.Context, caller Caller, userID string) (Written, error) {
	if err := domain.ValidateID("user id", userID); err != nil {
		return Written{}, err
	}
	u, err := id.loadUser(ctx, userID)
	if err != nil {
		return Written{}, err
	}
	if err := id.Authorize(ctx, caller, domain.ActionAdmin, UserResource(u.Username())); err != nil {
		return Written{}, err
	}
	if caller.Principal.UserID == u.ID() {
		return Written{}, domain.Errorf(domain.EUNPROCESSABLE, "you cannot delete your own account")
	}
	res, err := id.loadReservation(ctx, domain.UsernameReservationStream(u.Username()))
	if err != nil {
		return Written{}, err
	}
	if err := u.Delete(); err != nil {
		return Written{}, err
	}
	if err := res.Release(u.ID()); err != nil {
		return Written{}, err
	}
	revocations, err := id.revokeUserSessions(ctx, u.ID(), domain.RevokeUserDeleted)
	if err != nil {
		return Written{}, err
	}
	md := caller.Metadata()
	appends := append([]domain.StreamAppend{u.StreamAppend(md), res.StreamAppend(md)}, stamp(md, revocations)...)
	return id.svc.appendAndWait(ctx, []string{IdentityReadModel}, appends...)
}
