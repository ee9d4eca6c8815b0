async def test_space_round_trip(api, client):
    space = await api.space("demo")
    response = await client.get(f"/v1/spaces/{space['id']}")
    assert response.status_code == 200
    assert response.json() == space
