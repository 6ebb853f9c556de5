from django.urls import path

from study import views

urlpatterns = [
    path("model/", views.model_page, name="model"),
    path("model/examples.jpg", views.model_examples, name="model-examples"),
    path("study/", views.study_page, name="study"),
    path("study/next.json", views.next_pair, name="study-next"),
    path("study/answer", views.answer, name="study-answer"),
    path("study/results.json", views.results_json, name="study-results"),
    # One random token per image and showing, valid in one session only (study/trials.py).
    path("study/img/<str:token>.jpg", views.image, name="study-image"),
]
