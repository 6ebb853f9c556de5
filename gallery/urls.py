from django.urls import include, path

from gallery import views

urlpatterns = [
    path("", views.home, name="home"),
    # Accounts: Django's login, logout, password change and reset views,
    # plus sign-up and account deletion.
    path("accounts/signup/", views.signup, name="signup"),
    path("accounts/", views.account, name="account"),
    path("accounts/delete/", views.account_delete, name="account-delete"),
    path("accounts/export/", views.account_export, name="account-export"),
    path("accounts/api-keys/", views.api_keys, name="api-keys"),
    path("accounts/api-keys/<int:pk>/revoke", views.api_key_revoke, name="api-key-revoke"),
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/password_reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("galleries/", views.gallery_list, name="gallery-list"),
    path("galleries/new", views.gallery_create, name="gallery-create"),
    path("galleries/<int:pk>/", views.gallery, name="gallery"),
    path("galleries/<int:pk>/upload", views.gallery_upload, name="gallery-upload"),
    path("galleries/<int:pk>/rename", views.gallery_rename, name="gallery-rename"),
    path("galleries/<int:pk>/delete", views.gallery_delete, name="gallery-delete"),
    path("galleries/<int:pk>/download", views.gallery_download, name="gallery-download"),
    path("galleries/<int:pk>/delete-photos", views.gallery_delete_photos, name="gallery-delete-photos"),
    path("photos/<int:pk>/", views.photo, name="photo"),
    path("photos/<int:pk>/original", views.photo_original, name="photo-original"),
    path("photos/<int:pk>/download", views.photo_download, name="photo-download"),
    path("photos/<int:pk>/retry", views.photo_retry, name="photo-retry"),
    path("photos/<int:pk>/delete", views.photo_delete, name="photo-delete"),
    path("photos/<int:pk>/share", views.photo_share, name="photo-share"),
    path("photos/<int:pk>/uncertainty.png", views.photo_uncertainty, name="photo-uncertainty"),
    path("photos/<int:pk>/<str:kind>.jpg", views.photo_file, name="photo-file"),
    path("s/<str:token>/", views.shared_photo, name="shared-photo"),
    path("s/<str:token>/download", views.shared_download, name="shared-download"),
    path("s/<str:token>/<str:kind>.jpg", views.shared_file, name="shared-file"),
]
