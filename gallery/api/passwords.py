"""API keys die with the password.

Django has no "password changed" signal, but it calls password_changed() on
every entry of AUTH_PASSWORD_VALIDATORS once a new password is saved:
through the change form, a reset link, the admin or `manage.py
changepassword`, and not when a login merely upgrades the stored hash. This
"validator" checks nothing; it uses that hook to revoke every API key of the
person, so a key copied by whoever knew the old password stops working.
Sessions need nothing of ours: Django keeps a hash of the password in each
session and ends every session but the one that made the change.
"""

from gallery.api.models import ApiToken


class RevokeKeysOnPasswordChange:
    def validate(self, password, user=None):
        pass

    def password_changed(self, password, user=None):
        if user is not None and user.pk is not None:
            ApiToken.revoke_all(user)

    def get_help_text(self):
        # Shown under the new password, where people change or reset it, before they confirm.
        return ("Changing your password signs you out everywhere else and revokes all your API keys; "
                "make new keys afterwards.")
