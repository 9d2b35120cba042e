"""One APIRouter per module; sophia.create_app includes them."""
