package commands

import (
	"context"

	"github.com/securevault/vault/domain"
)

// RegisterInput is a self-registration. Password is plaintext only until
// it is hashed.
type RegisterInput struct {
	Username string
	Email    string
	Password string
}

// Register creates an account for whoever asks, when self-registration is
// on: the user holds no roles (so may do nothing until an administrator
// grants some) and is its own actor. The address is required; the mail
// consumer sends the verification mail when it sees UserCreated.
func (id *Identity) Register(ctx context.Context, caller domain.Caller, in RegisterInput) (UserView, Written, error) {
	email, err := id.accountEmail(caller)
	if err != nil {
		return UserView{}, Written{}, err
	}
	if !email.opts.SelfRegistration {
		return UserView{}, Written{}, domain.Errorf(domain.EFORBIDDEN, "self-registration is disabled on this server; ask an administrator for an account")
	}
	name, err := domain.NormalizeUsername(in.Username)
	if err != nil {
		return UserView{}, Written{}, err
	}
	addr, err := domain.NormalizeEmail(in.Email)
	if err != nil {
		return UserView{}, Written{}, err
	}
	if addr == "" {
		return UserView{}, Written{}, domain.Errorf(domain.EINVALID, "email is required")
	}
	if ok, wait := email.address.Allow(domain.ResetAttemptStream(addr)); !ok {
		return UserView{}, Written{}, newRateLimitError("too many requests for this address; retry later", wait)
	}
	if err := id.opts.PasswordPolicy.Check(name, in.Password); err != nil {
		return UserView{}, Written{}, err
	}
	userID := domain.NewID()
	md := caller.Metadata()
	md.Actor, md.ActorName = userID, name
	return id.createUser(ctx, md, userID, name, CreateUserInput{Username: name, Email: addr, Password: in.Password})
}
