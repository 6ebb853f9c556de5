def test_home_page_describes_the_product(client):
    response = client.get("/")
    assert response.status_code == 200
    assert b"black-and-white" in response.content
