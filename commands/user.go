package commands

import (
	"context"

	"github.com/securevault/vault/domain"
	"github.com/securevault/vault/fold"
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

// CreateUser needs `admin` on users/<username>, and the caller must cover
// what the roles grant (or hold escalate there). The username is reserved
// in the same atomic append as UserCreated, so two concurrent creations of
// one name cannot both succeed, on one replica or many.
func (id *Identity) CreateUser(ctx context.Context, caller domain.Caller, in CreateUserInput) (UserView, Written, error) {
	name, err := domain.NormalizeUsername(in.Username)
	if err != nil {
		return UserView{}, Written{}, err
	}
	if err := id.svc.access.Authorize(ctx, caller, domain.ActionAdmin, domain.UserResource(name)); err != nil {
		return UserView{}, Written{}, err
	}
	if err := id.opts.PasswordPolicy.Check(name, in.Password); err != nil {
		return UserView{}, Written{}, err
	}
	if err := id.svc.fold.RequireRoles(ctx, in.Roles); err != nil {
		return UserView{}, Written{}, err
	}
	granted, err := id.svc.fold.UserStatements(ctx, in.Roles)
	if err != nil {
		return UserView{}, Written{}, err
	}
	if err := id.authorizeGrant(ctx, caller, domain.UserResource(name), nil, granted); err != nil {
		return UserView{}, Written{}, err
	}
	return id.createUser(ctx, caller.Metadata(), domain.NewID(), name, in)
}

// createUser reserves name and appends the new user userID with md; the
// caller was authorized (CreateUser) or registers itself (Register).
func (id *Identity) createUser(ctx context.Context, md domain.Metadata, userID, name string, in CreateUserInput) (UserView, Written, error) {
	res, err := id.loadReservation(ctx, domain.UsernameReservationStream(name))
	if err != nil {
		return UserView{}, Written{}, err
	}
	// Checked before hashing so a taken name costs no Argon2id work; the
	// append below is what actually decides.
	if err := res.Reserve(userID); err != nil {
		return UserView{}, Written{}, err
	}
	sealed, err := id.hashAndSeal(ctx, userID, domain.FirstPasswordVersion, in.Password)
	if err != nil {
		return UserView{}, Written{}, err
	}
	u, err := domain.NewUser(userID, name, in.Email, sealed)
	if err != nil {
		id.dropUnusedPasswordKey(ctx, userID, sealed.Version)
		return UserView{}, Written{}, err
	}
	if err := u.AssignRoles(in.Roles); err != nil {
		id.dropUnusedPasswordKey(ctx, userID, sealed.Version)
		return UserView{}, Written{}, err
	}
	if in.Disabled {
		if err := u.Disable(); err != nil {
			id.dropUnusedPasswordKey(ctx, userID, sealed.Version)
			return UserView{}, Written{}, err
		}
	}
	members, err := id.adminMembershipChange(ctx, userID, false, u.HoldsActively(domain.AdminRoleID))
	if err != nil {
		id.dropUnusedPasswordKey(ctx, userID, sealed.Version)
		return UserView{}, Written{}, err
	}
	appends := append([]domain.StreamAppend{res.StreamAppend(md), u.StreamAppend(md)}, stamp(md, members)...)
	w, err := id.svc.appendEvents(ctx, appends...)
	if err != nil {
		if domain.ErrorCode(err) == domain.ECONFLICT {
			// The id is fresh, so no stored event uses its key.
			id.dropUnusedPasswordKey(ctx, userID, sealed.Version)
		}
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

// UpdateUser needs `admin` on users/<username>. New roles must be covered
// by the caller (authorizeGrant); a change of the e-mail address (where
// password resets go), the password or the disabled flag of another user
// needs the caller to cover everything that user holds (authorizeTakeover).
// Disabling revokes every session of the user in the same atomic append;
// a new password ends the user's other sessions.
func (id *Identity) UpdateUser(ctx context.Context, caller domain.Caller, userID string, in UpdateUserInput) (UserView, Written, error) {
	if err := domain.ValidateID("user id", userID); err != nil {
		return UserView{}, Written{}, err
	}
	u, err := id.svc.fold.User(ctx, userID)
	if err != nil {
		return UserView{}, Written{}, err
	}
	if err := id.svc.access.Authorize(ctx, caller, domain.ActionAdmin, domain.UserResource(u.Username())); err != nil {
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
	wasAdmin, wasDisabled := u.HoldsActively(domain.AdminRoleID), u.Disabled()
	if in.Email != nil {
		if err := u.UpdateEmail(*in.Email); err != nil {
			return UserView{}, Written{}, err
		}
	}
	if in.Disabled != nil {
		if *in.Disabled {
			err = u.Disable()
		} else {
			err = u.Enable()
		}
		if err != nil {
			return UserView{}, Written{}, err
		}
	}
	if in.Password != nil {
		if err := id.opts.PasswordPolicy.Check(u.Username(), *in.Password); err != nil {
			return UserView{}, Written{}, err
		}
	}
	// Decided on the roles the user holds now; new roles are a grant,
	// checked next, so what the user holds afterwards is covered too.
	if len(u.Changes()) > 0 || in.Password != nil {
		if err := id.authorizeTakeover(ctx, caller, u); err != nil {
			return UserView{}, Written{}, err
		}
	}
	if in.Roles != nil {
		if err := id.svc.fold.RequireRoles(ctx, *in.Roles); err != nil {
			return UserView{}, Written{}, err
		}
		before, err := id.svc.fold.UserStatements(ctx, u.RoleIDs())
		if err != nil {
			return UserView{}, Written{}, err
		}
		after, err := id.svc.fold.UserStatements(ctx, *in.Roles)
		if err != nil {
			return UserView{}, Written{}, err
		}
		if err := id.authorizeGrant(ctx, caller, domain.UserResource(u.Username()), before, after); err != nil {
			return UserView{}, Written{}, err
		}
		if err := u.AssignRoles(*in.Roles); err != nil {
			return UserView{}, Written{}, err
		}
	}
	var revocations []domain.StreamAppend
	if u.Disabled() && !wasDisabled {
		if revocations, err = id.revokeUserSessions(ctx, u.ID(), domain.RevokeDisabled); err != nil {
			return UserView{}, Written{}, err
		}
	}
	replaced := int64(0)
	if in.Password != nil {
		replaced = u.Password().Version
		sealed, err := id.hashAndSeal(ctx, u.ID(), u.NextPasswordVersion(), *in.Password)
		if err != nil {
			return UserView{}, Written{}, err
		}
		if err := u.ChangePassword(sealed); err != nil {
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
	members, err := id.adminMembershipChange(ctx, u.ID(), wasAdmin, u.HoldsActively(domain.AdminRoleID))
	if err != nil {
		return UserView{}, Written{}, err
	}
	md := caller.Metadata()
	appends := append([]domain.StreamAppend{u.StreamAppend(md)}, stamp(md, append(members, revocations...))...)
	w, err := id.svc.appendEvents(ctx, appends...)
	if err != nil {
		// A new password's key stays: a concurrent change of the same
		// version may have won with it (see seal.Sealer.NewKey).
		return UserView{}, Written{}, err
	}
	if in.Password != nil {
		id.shredOldPassword(ctx, u.ID(), replaced)
	}
	return userView(u), w, nil
}

// DeleteUser needs `admin` on users/<username> and that the caller covers
// what the user holds. It releases the username and revokes every session
// in one atomic append, then deletes the user's data keys, which shreds
// every password hash the user ever had. Nobody deletes their own account,
// so an administrator cannot lock everyone out by accident; deleting a
// deleted user again finishes a shredding that failed (and answers 404).
func (id *Identity) DeleteUser(ctx context.Context, caller domain.Caller, userID string) (Written, error) {
	if err := domain.ValidateID("user id", userID); err != nil {
		return Written{}, err
	}
	u, _, err := fold.Latest(ctx, id.svc.fold, domain.StreamID(domain.UserAggregate, userID), domain.LoadUser, domain.RestoreUser)
	if err != nil {
		return Written{}, err
	}
	if u.Deleted() {
		if !id.svc.access.Allowed(caller, domain.ActionAdmin, domain.UserResource(u.Username())) {
			return Written{}, domain.Errorf(domain.ENOTFOUND, "user not found")
		}
		if err := id.sealer.ShredOwner(ctx, u.ID()); err != nil {
			return Written{}, domain.WrapError(domain.EUNAVAILABLE, "the user's keys could not be deleted yet; retry", err)
		}
		return Written{}, domain.Errorf(domain.ENOTFOUND, "user not found")
	}
	if err := id.svc.access.Authorize(ctx, caller, domain.ActionAdmin, domain.UserResource(u.Username())); err != nil {
		return Written{}, err
	}
	if caller.Principal.UserID == u.ID() {
		return Written{}, domain.Errorf(domain.EUNPROCESSABLE, "you cannot delete your own account")
	}
	if err := id.authorizeTakeover(ctx, caller, u); err != nil {
		return Written{}, err
	}
	res, err := id.loadReservation(ctx, domain.UsernameReservationStream(u.Username()))
	if err != nil {
		return Written{}, err
	}
	wasAdmin := u.HoldsActively(domain.AdminRoleID)
	if err := u.Delete(); err != nil {
		return Written{}, err
	}
	if err := res.Release(u.ID()); err != nil {
		return Written{}, err
	}
	members, err := id.adminMembershipChange(ctx, u.ID(), wasAdmin, false)
	if err != nil {
		return Written{}, err
	}
	revocations, err := id.revokeUserSessions(ctx, u.ID(), domain.RevokeUserDeleted)
	if err != nil {
		return Written{}, err
	}
	md := caller.Metadata()
	appends := append([]domain.StreamAppend{u.StreamAppend(md), res.StreamAppend(md)}, stamp(md, append(members, revocations...))...)
	w, err := id.svc.appendEvents(ctx, appends...)
	if err != nil {
		return Written{}, err
	}
	if err := id.sealer.ShredOwner(context.WithoutCancel(ctx), u.ID()); err != nil {
		return Written{}, domain.WrapError(domain.EUNAVAILABLE, "the user is deleted but its keys could not be deleted yet; delete it again to finish", err)
	}
	return w, nil
}
