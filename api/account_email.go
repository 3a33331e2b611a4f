package api

import (
	"context"
	"net/http"

	"github.com/securevault/vault/commands"
	"github.com/securevault/vault/domain"
)

// MountAccountEmail registers self-registration, address verification and
// password reset by mail (/api/v1/auth/register, verify-email,
// resend-verification, forgot-password, reset-password). None needs a session: the token in the
// mail is the credential, and it is never logged (the access log carries
// no query string).
func (s *Server) MountAccountEmail(deps IdentityDeps) {
	h := identityHandlers{s: s, deps: deps}
	s.handle(http.MethodPost, "/api/v1/auth/register", h.register)
	s.handle(http.MethodGet, "/api/v1/auth/verify-email", h.verifyEmail, "token")
	s.handle(http.MethodPost, "/api/v1/auth/resend-verification", h.resendVerification)
	s.handle(http.MethodPost, "/api/v1/auth/forgot-password", h.forgotPassword)
	s.handle(http.MethodPost, "/api/v1/auth/reset-password", h.resetPassword)
}

type registerRequest struct {
	Username string `json:"username"`
	Email    string `json:"email"`
	Password string `json:"password"`
}

// addressRequest is forgot-password's and resend-verification's body.
type addressRequest struct {
	Email string `json:"email"`
}

type resetPasswordRequest struct {
	Token       string `json:"token"`
	NewPassword string `json:"new_password"`
}

func (h identityHandlers) register(w http.ResponseWriter, r *http.Request) {
	var req registerRequest
	if err := h.s.decodeJSON(w, r, &req); err != nil {
		h.s.writeError(w, r, err)
		return
	}
	if req.Username == "" || req.Email == "" || req.Password == "" {
		h.s.writeError(w, r, domain.Errorf(domain.EINVALID, "username, email and password are required"))
		return
	}
	user, written, err := h.deps.Commands.Register(r.Context(), CallerFrom(r, domain.Principal{}),
		commands.RegisterInput{Username: req.Username, Email: req.Email, Password: req.Password})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	identityWritten(w, http.StatusCreated, written, user)
}

func (h identityHandlers) verifyEmail(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	if token == "" {
		h.s.writeError(w, r, domain.Errorf(domain.EINVALID, "token is required"))
		return
	}
	// The link was followed from a mail: nothing about it may be cached or
	// passed on as a referrer.
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	user, written, err := h.deps.Commands.VerifyEmail(r.Context(), CallerFrom(r, domain.Principal{}), token)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	setPosition(w, written.Position)
	writeJSON(w, http.StatusOK, map[string]any{"status": "verified", "user_id": user.ID, "email": user.Email})
}

func (h identityHandlers) forgotPassword(w http.ResponseWriter, r *http.Request) {
	h.mailRequest(w, r, h.deps.Commands.ForgotPassword, "if an account has this address, a reset link is on its way")
}

func (h identityHandlers) resendVerification(w http.ResponseWriter, r *http.Request) {
	h.mailRequest(w, r, h.deps.Commands.ResendVerification,
		"if an account has this address and it is not verified yet, a new verification link is on its way")
}

// mailRequest answers an anonymous request for mail to an address with 202
// and the same body whether or not anyone has the address.
func (h identityHandlers) mailRequest(w http.ResponseWriter, r *http.Request,
	request func(ctx context.Context, caller domain.Caller, address string) error, accepted string) {
	var req addressRequest
	if err := h.s.decodeJSON(w, r, &req); err != nil {
		h.s.writeError(w, r, err)
		return
	}
	if req.Email == "" {
		h.s.writeError(w, r, domain.Errorf(domain.EINVALID, "email is required"))
		return
	}
	if err := request(r.Context(), CallerFrom(r, domain.Principal{}), req.Email); err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"status": "accepted", "message": accepted})
}

func (h identityHandlers) resetPassword(w http.ResponseWriter, r *http.Request) {
	var req resetPasswordRequest
	if err := h.s.decodeJSON(w, r, &req); err != nil {
		h.s.writeError(w, r, err)
		return
	}
	if req.Token == "" || req.NewPassword == "" {
		h.s.writeError(w, r, domain.Errorf(domain.EINVALID, "token and new_password are required"))
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	written, err := h.deps.Commands.ResetPassword(r.Context(), CallerFrom(r, domain.Principal{}), req.Token, req.NewPassword)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	setPosition(w, written.Position)
	w.WriteHeader(http.StatusNoContent)
}
